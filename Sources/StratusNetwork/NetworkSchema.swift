import StratusStorage

/// Neutron's tables, reduced: networks, IPv4 subnets, ports with their fixed IPs (one row per address, unique per
/// subnet: two ports can never hold one address), security groups and rules.
public enum NetworkSchema {
    public static let migrations: [Migration] = [
        Migration(
            "network.1",
            sql: [
                """
                CREATE TABLE net_networks (
                    id TEXT PRIMARY KEY, name TEXT NOT NULL, project_id TEXT NOT NULL, admin_state_up BOOLEAN NOT NULL,
                    shared BOOLEAN NOT NULL, external BOOLEAN NOT NULL, mtu INTEGER NOT NULL, network_type TEXT NOT NULL,
                    physical_network TEXT, segmentation_id INTEGER, description TEXT NOT NULL,
                    created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL)
                """,
                """
                CREATE TABLE net_subnets (
                    id TEXT PRIMARY KEY, network_id TEXT NOT NULL REFERENCES net_networks(id), project_id TEXT NOT NULL,
                    name TEXT NOT NULL, cidr TEXT NOT NULL, ip_version INTEGER NOT NULL, gateway_ip TEXT, enable_dhcp BOOLEAN NOT NULL,
                    allocation_pools TEXT NOT NULL, dns_nameservers TEXT NOT NULL, host_routes TEXT NOT NULL,
                    description TEXT NOT NULL, claims BIGINT NOT NULL DEFAULT 0,
                    created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL)
                """,
                """
                CREATE TABLE net_ports (
                    id TEXT PRIMARY KEY, network_id TEXT NOT NULL REFERENCES net_networks(id), project_id TEXT NOT NULL,
                    name TEXT NOT NULL, mac_address TEXT NOT NULL UNIQUE, admin_state_up BOOLEAN NOT NULL, status TEXT NOT NULL,
                    device_id TEXT NOT NULL, device_owner TEXT NOT NULL, binding_host_id TEXT NOT NULL, binding_vif_type TEXT NOT NULL,
                    binding_vnic_type TEXT NOT NULL, security_groups TEXT NOT NULL, description TEXT NOT NULL,
                    created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL)
                """,
                "CREATE INDEX net_ports_device ON net_ports (device_id)",
                """
                CREATE TABLE net_ip_allocations (
                    subnet_id TEXT NOT NULL REFERENCES net_subnets(id), ip_address TEXT NOT NULL,
                    port_id TEXT NOT NULL REFERENCES net_ports(id) ON DELETE CASCADE, PRIMARY KEY (subnet_id, ip_address))
                """,
                "CREATE INDEX net_ip_allocations_port ON net_ip_allocations (port_id)",
                """
                CREATE TABLE net_security_groups (
                    id TEXT PRIMARY KEY, project_id TEXT NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL,
                    created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL)
                """,
                """
                CREATE TABLE net_security_group_rules (
                    id TEXT PRIMARY KEY, security_group_id TEXT NOT NULL REFERENCES net_security_groups(id) ON DELETE CASCADE,
                    project_id TEXT NOT NULL, direction TEXT NOT NULL, ethertype TEXT NOT NULL, protocol TEXT,
                    port_range_min INTEGER, port_range_max INTEGER, remote_ip_prefix TEXT, remote_group_id TEXT,
                    description TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL)
                """,
            ]),
    ]
}
