/// Glance's policy-in-code (glance/policies), current defaults with secure RBAC.
public enum ImagePolicies {
    static let adminOrMember = "role:admin or (role:member and project_id:%(project_id)s)"
    static let adminOrReader = "role:admin or (role:reader and project_id:%(project_id)s)"

    public static let rules: [PolicyRule] = [
        PolicyRule("context_is_admin", "role:admin", "Decides what is an administrator."),
        PolicyRule("service_api", "role:service", "Service-to-service calls (compute hosts fetching images)."),
        PolicyRule("add_image", "role:admin or (role:member and project_id:%(project_id)s and project_id:%(owner)s)",
                   "Create an image (owned by the caller's project)."),
        PolicyRule("get_images", adminOrReader, "List images."),
        PolicyRule("get_image", adminOrReader + " or rule:service_api",
                   "Show an image the caller can see (own, public, community or shared); compute hosts (service) see any."),
        PolicyRule("modify_image", adminOrMember, "Update an image, add or remove its tags."),
        PolicyRule("publicize_image", "role:admin", "Make an image public."),
        PolicyRule("delete_image", adminOrMember, "Delete an image."),
        PolicyRule("upload_image", adminOrMember + " or rule:service_api", "Upload an image's data (compute hosts: a server's snapshot)."),
        PolicyRule("download_image", adminOrMember + " or rule:service_api", "Download an image's data (compute hosts: any image)."),
        PolicyRule("deactivate", adminOrMember, "Deactivate an image."),
        PolicyRule("reactivate", adminOrMember, "Reactivate an image."),
        PolicyRule("get_members", adminOrReader, "List the members of an image."),
        PolicyRule("get_member", adminOrReader, "Show one member of an image."),
        PolicyRule("add_member", adminOrMember, "Share an image with a project."),
        PolicyRule("modify_member", adminOrMember, "Accept or reject an image shared with the caller's project."),
        PolicyRule("delete_member", adminOrMember, "Stop sharing an image with a project."),
    ]
}
