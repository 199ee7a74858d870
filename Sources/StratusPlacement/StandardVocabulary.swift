/// The standard resource classes (os-resource-classes) and the standard traits Stratus knows (a subset of
/// os-traits: the CPU, compute, storage, network and misc traits schedulers use). `CUSTOM_*` names are the
/// operator's own.
public enum StandardVocabulary {
    public static let resourceClasses: [String] = [
        "VCPU", "MEMORY_MB", "DISK_GB", "PCI_DEVICE", "SRIOV_NET_VF", "NUMA_SOCKET", "NUMA_CORE", "NUMA_THREAD",
        "NUMA_MEMORY_MB", "IPV4_ADDRESS", "VGPU", "VGPU_DISPLAY_HEAD", "NET_BW_EGR_KILOBIT_PER_SEC",
        "NET_BW_IGR_KILOBIT_PER_SEC", "PCPU", "MEM_ENCRYPTION_CONTEXT", "FPGA", "PGPU",
        "NET_PACKET_RATE_KILOPACKET_PER_SEC", "NET_PACKET_RATE_EGR_KILOPACKET_PER_SEC",
        "NET_PACKET_RATE_IGR_KILOPACKET_PER_SEC",
    ]

    public static let traits: [String] = {
        let cpuFeatures = [
            "AVX", "AVX2", "AVX512F", "AVX512CD", "AVX512PF", "AVX512ER", "AVX512VL", "AVX512BW", "AVX512DQ",
            "AVX512VNNI", "SSE", "SSE2", "SSE3", "SSSE3", "SSE41", "SSE42", "SSE4A", "MMX", "FMA3", "FMA4", "AES",
            "SHA", "VMX", "SVM", "ABM", "BMI", "BMI2", "F16C", "MPX", "TSX", "XOP", "TBM", "CLMUL", "PDPE1GB",
            "AMD_SEV", "AMD_SVM", "INTEL_VMX", "SGX",
        ]
        var traits = cpuFeatures.map { "HW_CPU_X86_" + $0 }
        traits += ["HW_CPU_HYPERTHREADING", "HW_CPU_AARCH64_FP", "HW_CPU_AARCH64_ASIMD", "HW_CPU_AARCH64_SVE"]
        traits += [
            "HW_NIC_SRIOV", "HW_NIC_SRIOV_MULTIQUEUE", "HW_NIC_SRIOV_TRUSTED", "HW_NIC_MULTIQUEUE",
            "HW_NIC_OFFLOAD_TSO", "HW_NIC_OFFLOAD_GRO", "HW_NIC_OFFLOAD_GSO", "HW_NIC_OFFLOAD_RX",
            "HW_NIC_OFFLOAD_TX", "HW_NIC_OFFLOAD_SG", "HW_NIC_ACCEL_SSL", "HW_NIC_DCB_PFC",
            "HW_GPU_API_VULKAN", "HW_GPU_API_OPENGL_4_6", "HW_GPU_CUDA_COMPUTE_CAPABILITY_V8_0",
            "HW_NUMA_ROOT", "HW_ARCH_X86_64", "HW_ARCH_AARCH64", "HW_ARCH_PPC64LE", "HW_ARCH_S390X",
        ]
        traits += [
            "COMPUTE_DEVICE_TAGGING", "COMPUTE_NET_ATTACH_INTERFACE", "COMPUTE_NET_ATTACH_INTERFACE_WITH_TAG",
            "COMPUTE_VOLUME_ATTACH", "COMPUTE_VOLUME_ATTACH_WITH_TAG", "COMPUTE_VOLUME_EXTEND",
            "COMPUTE_VOLUME_MULTI_ATTACH", "COMPUTE_TRUSTED_CERTS", "COMPUTE_IMAGE_TYPE_AKI",
            "COMPUTE_IMAGE_TYPE_AMI", "COMPUTE_IMAGE_TYPE_ARI", "COMPUTE_IMAGE_TYPE_ISO",
            "COMPUTE_IMAGE_TYPE_QCOW2", "COMPUTE_IMAGE_TYPE_RAW", "COMPUTE_IMAGE_TYPE_VDI",
            "COMPUTE_IMAGE_TYPE_VHD", "COMPUTE_IMAGE_TYPE_VHDX", "COMPUTE_IMAGE_TYPE_VMDK",
            "COMPUTE_IMAGE_TYPE_PLOOP", "COMPUTE_NODE", "COMPUTE_STATUS_DISABLED", "COMPUTE_ACCELERATORS",
            "COMPUTE_RESCUE_BFV", "COMPUTE_SAME_HOST_COLD_MIGRATE", "COMPUTE_SOCKET_PCI_NUMA_AFFINITY",
            "COMPUTE_ADDRESS_SPACE_EMULATED", "COMPUTE_ADDRESS_SPACE_PASSTHROUGH", "COMPUTE_EPHEMERAL_ENCRYPTION",
            "COMPUTE_SECURITY_UEFI_SECURE_BOOT", "COMPUTE_SECURITY_TPM_1_2", "COMPUTE_SECURITY_TPM_2_0",
            "COMPUTE_MEM_BACKING_FILE", "COMPUTE_NET_VIF_MODEL_VIRTIO", "COMPUTE_NET_VIF_MODEL_E1000",
            "COMPUTE_NET_VIF_MODEL_RTL8139", "COMPUTE_NET_VIF_MODEL_VMXNET3", "COMPUTE_NET_VIF_MODEL_NE2K_PCI",
            "COMPUTE_NET_VIF_MODEL_PCNET", "COMPUTE_NET_VIF_MODEL_E1000E", "COMPUTE_NET_VIF_MODEL_SPAPR_VLAN",
            "COMPUTE_NET_VIF_MODEL_LAN9118", "COMPUTE_GRAPHICS_MODEL_VGA", "COMPUTE_GRAPHICS_MODEL_CIRRUS",
            "COMPUTE_GRAPHICS_MODEL_VIRTIO", "COMPUTE_GRAPHICS_MODEL_BOCHS", "COMPUTE_GRAPHICS_MODEL_NONE",
            "COMPUTE_STORAGE_BUS_VIRTIO", "COMPUTE_STORAGE_BUS_SCSI", "COMPUTE_STORAGE_BUS_IDE",
            "COMPUTE_STORAGE_BUS_SATA", "COMPUTE_STORAGE_BUS_USB", "COMPUTE_STORAGE_BUS_FDC",
            "COMPUTE_FIRMWARE_BIOS", "COMPUTE_FIRMWARE_UEFI", "COMPUTE_ARCH_X86_64", "COMPUTE_ARCH_AARCH64",
            "COMPUTE_VIOMMU_MODEL_INTEL", "COMPUTE_VIOMMU_MODEL_VIRTIO", "COMPUTE_VIOMMU_MODEL_AUTO",
        ]
        traits += ["STORAGE_DISK_HDD", "STORAGE_DISK_SSD", "MISC_SHARES_VIA_AGGREGATE", "HW_NIC_VDPA"]
        traits += ["OWNER_CINDER", "OWNER_NOVA", "OWNER_NEUTRON", "OWNER_CYBORG", "OWNER_ZUN"]
        return traits
    }()

    /// `MISC_SHARES_VIA_AGGREGATE`: a provider whose inventory is shared with the providers of its aggregates.
    public static let sharesViaAggregate = "MISC_SHARES_VIA_AGGREGATE"

    static let standardTraitSet = Set(traits)
    static let standardClassSet = Set(resourceClasses)

    public static func isStandardTrait(_ name: String) -> Bool { standardTraitSet.contains(name) }
    public static func isStandardClass(_ name: String) -> Bool { standardClassSet.contains(name) }

    /// `CUSTOM_` followed by upper-case letters, digits and underscores, as Placement requires.
    public static func isValidCustomName(_ name: String) -> Bool {
        guard name.hasPrefix("CUSTOM_"), name.count > 7, name.count <= 255 else { return false }
        return name.unicodeScalars.allSatisfy { ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }
}
