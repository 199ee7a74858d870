import Hummingbird
import StratusCore
import StratusImage

/// Members of shared images: the owner adds projects, each member accepts or rejects for itself.
extension ImageAPI {
    func registerMembers(on router: PolicedRouter) {
        router.get("image/v2/images/:id/members", .rule("get_members")) { _, context in
            let image = try await sharedImage(context)
            var members = try await store.members(image.id)
            let auth = try context.requireAuth()
            if !(auth.isAdmin || image.owner == auth.projectID) { members = members.filter { $0.member == auth.projectID } }
            return JSONResponse.make(status: .ok, ["members": .array(members.map(memberJSON)), "schema": "/v2/schemas/members"])
        }
        router.post("image/v2/images/:id/members", .rule("add_member")) { request, context in
            let image = try await sharedImage(context)
            let auth = try context.requireAuth()
            guard auth.isAdmin || image.owner == auth.projectID else { throw StratusError.forbidden("Only the image owner can add members.") }
            let fields = try JSONFields(try await request.jsonObject(limit: bodyLimit), path: "")
            let member = try await store.addMember(image.id, member: try fields.requiredString("member"))
            return JSONResponse.make(status: .ok, memberJSON(member))
        }
        router.get("image/v2/images/:id/members/:member", .rule("get_member")) { _, context in
            let image = try await sharedImage(context)
            let name = try context.parameters.require("member")
            let auth = try context.requireAuth()
            guard let member = try await store.members(image.id).first(where: { $0.member == name }),
                  auth.isAdmin || image.owner == auth.projectID || name == auth.projectID else {
                throw StratusError.notFound("Member \(name) not found for image \(image.id)")
            }
            return JSONResponse.make(status: .ok, memberJSON(member))
        }
        router.put("image/v2/images/:id/members/:member", .rule("modify_member", target: .parameters(["project_id": "member"]))) { request, context in
            let image = try await sharedImage(context)
            let name = try context.parameters.require("member")
            guard try context.requireAuth().projectID == name else {
                throw StratusError.forbidden("Only the member itself can change its status.")
            }
            let status = try JSONFields(try await request.jsonObject(limit: bodyLimit), path: "").requiredString("status")
            guard ["pending", "accepted", "rejected"].contains(status) else {
                throw StratusError.badRequest("Invalid status: \(status): one of pending, accepted, rejected.")
            }
            guard let member = try await store.setMemberStatus(image.id, member: name, status: status) else {
                throw StratusError.notFound("Member \(name) not found for image \(image.id)")
            }
            return JSONResponse.make(status: .ok, memberJSON(member))
        }
        router.delete("image/v2/images/:id/members/:member", .rule("delete_member")) { _, context in
            let image = try await sharedImage(context)
            let auth = try context.requireAuth()
            guard auth.isAdmin || image.owner == auth.projectID else { throw StratusError.forbidden("Only the image owner can remove members.") }
            let name = try context.parameters.require("member")
            guard try await store.members(image.id).contains(where: { $0.member == name }) else {
                throw StratusError.notFound("Member \(name) not found for image \(image.id)")
            }
            try await store.removeMember(image.id, member: name)
            return JSONResponse.empty(.noContent)
        }
    }

    func sharedImage(_ context: StratusRequestContext) async throws -> Image {
        let image = try await visibleImage(context)
        guard image.visibility == "shared" else {
            throw StratusError.forbidden("Only shared images have members.")
        }
        return image
    }

    func memberJSON(_ member: ImageMember) -> JSON {
        ["image_id": .string(member.imageID), "member_id": .string(member.member), "status": .string(member.status),
         "created_at": .string(Clock.iso8601(member.createdAt)), "updated_at": .string(Clock.iso8601(member.updatedAt)),
         "schema": "/v2/schemas/member"]
    }
}
