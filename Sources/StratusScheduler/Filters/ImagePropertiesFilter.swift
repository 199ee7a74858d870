/// The image's `hw_architecture` (or `architecture`) and `img_hv_type` (or `hypervisor_type`) properties must
/// match the host (Nova's ImagePropertiesFilter). Images without them run anywhere.
public struct ImagePropertiesFilter: HostFilter {
    public static let name = "ImagePropertiesFilter"
    public init() {}
    public func passes(_ host: HostState, _ spec: RequestSpec) -> Bool {
        let properties = spec.imageProperties
        if let arch = properties["hw_architecture"] ?? properties["architecture"], arch.lowercased() != host.architecture {
            return false
        }
        if let type = properties["img_hv_type"] ?? properties["hypervisor_type"] {
            // Nova treats qemu and kvm as one hypervisor family.
            let family: (String) -> String = { ["kvm": "qemu"][$0.lowercased()] ?? $0.lowercased() }
            if family(type) != family(host.hypervisorType) { return false }
        }
        return true
    }
}
