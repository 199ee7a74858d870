import StratusStorage

/// Nova's tables: flavors, instances and their actions, hosts; then groups, quotas, keypairs and aggregates.
public enum ComputeSchema {
    public static let migrations: [Migration] = [
        Migration(
            "compute.1",
            sql: [
                """
                CREATE TABLE compute_flavors (
                    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, memory_mb INTEGER NOT NULL, vcpus INTEGER NOT NULL,
                    root_gb INTEGER NOT NULL, ephemeral_gb INTEGER NOT NULL, swap INTEGER NOT NULL,
                    rxtx_factor DOUBLE PRECISION NOT NULL, is_public BOOLEAN NOT NULL, disabled BOOLEAN NOT NULL,
                    description TEXT, created_at DOUBLE PRECISION NOT NULL)
                """,
                """
                CREATE TABLE compute_flavor_extra_specs (
                    flavor_id TEXT NOT NULL REFERENCES compute_flavors(id) ON DELETE CASCADE,
                    key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (flavor_id, key))
                """,
                """
                CREATE TABLE compute_flavor_projects (
                    flavor_id TEXT NOT NULL REFERENCES compute_flavors(id) ON DELETE CASCADE,
                    project_id TEXT NOT NULL, PRIMARY KEY (flavor_id, project_id))
                """,
            ]),
        Migration(
            "compute.2",
            sql: [
                """
                CREATE TABLE compute_instances (
                    uuid TEXT PRIMARY KEY, name TEXT NOT NULL, project_id TEXT NOT NULL, user_id TEXT NOT NULL,
                    flavor TEXT NOT NULL, image_ref TEXT NOT NULL, host TEXT, node TEXT, vm_state TEXT NOT NULL,
                    task_state TEXT, power_state INTEGER NOT NULL, availability_zone TEXT, key_name TEXT,
                    metadata TEXT NOT NULL, user_data TEXT, instance_name TEXT NOT NULL, fault TEXT,
                    locked BOOLEAN NOT NULL, deleted BOOLEAN NOT NULL, created_at DOUBLE PRECISION NOT NULL,
                    updated_at DOUBLE PRECISION NOT NULL, launched_at DOUBLE PRECISION)
                """,
                "CREATE INDEX compute_instances_project ON compute_instances (project_id, deleted)",
                """
                CREATE TABLE compute_instance_actions (
                    id TEXT PRIMARY KEY, instance_uuid TEXT NOT NULL, action TEXT NOT NULL, request_id TEXT NOT NULL,
                    user_id TEXT NOT NULL, project_id TEXT NOT NULL, start_time DOUBLE PRECISION NOT NULL,
                    finish_time DOUBLE PRECISION, message TEXT)
                """,
                "CREATE INDEX compute_instance_actions_instance ON compute_instance_actions (instance_uuid)",
                """
                CREATE TABLE compute_instance_action_events (
                    id TEXT PRIMARY KEY, action_id TEXT NOT NULL REFERENCES compute_instance_actions(id) ON DELETE CASCADE,
                    event TEXT NOT NULL, start_time DOUBLE PRECISION NOT NULL, finish_time DOUBLE PRECISION,
                    result TEXT, host TEXT, details TEXT)
                """,
                """
                CREATE TABLE compute_services (
                    id TEXT PRIMARY KEY, host TEXT NOT NULL, service_binary TEXT NOT NULL, zone TEXT NOT NULL,
                    disabled BOOLEAN NOT NULL, disabled_reason TEXT, forced_down BOOLEAN NOT NULL,
                    last_seen DOUBLE PRECISION NOT NULL, created_at DOUBLE PRECISION NOT NULL, UNIQUE (host, service_binary))
                """,
                """
                CREATE TABLE compute_nodes (
                    uuid TEXT PRIMARY KEY, host TEXT NOT NULL UNIQUE, hypervisor_type TEXT NOT NULL,
                    vcpus INTEGER NOT NULL, memory_mb INTEGER NOT NULL, local_gb INTEGER NOT NULL,
                    created_at DOUBLE PRECISION NOT NULL)
                """,
            ]),
        Migration(
            "compute.3",
            sql: [
                // Counted columns for quota checks in SQL; tags and scheduler hints kept with the instance.
                "ALTER TABLE compute_instances ADD COLUMN vcpus INTEGER NOT NULL DEFAULT 0",
                "ALTER TABLE compute_instances ADD COLUMN memory_mb INTEGER NOT NULL DEFAULT 0",
                "ALTER TABLE compute_instances ADD COLUMN tags TEXT NOT NULL DEFAULT '[]'",
                "ALTER TABLE compute_instances ADD COLUMN hints TEXT NOT NULL DEFAULT '{}'",
                "ALTER TABLE compute_instances ADD COLUMN description TEXT",
                "ALTER TABLE compute_instances ADD COLUMN locked_reason TEXT",
                """
                CREATE TABLE compute_server_groups (
                    id TEXT PRIMARY KEY, name TEXT NOT NULL, project_id TEXT NOT NULL, user_id TEXT NOT NULL,
                    policy TEXT NOT NULL, rules TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL,
                    claims BIGINT NOT NULL DEFAULT 0)
                """,
                """
                CREATE TABLE compute_server_group_members (
                    instance_uuid TEXT PRIMARY KEY,
                    group_id TEXT NOT NULL REFERENCES compute_server_groups(id) ON DELETE CASCADE, host TEXT)
                """,
                "CREATE INDEX compute_server_group_members_group ON compute_server_group_members (group_id)",
                """
                CREATE TABLE compute_keypairs (
                    user_id TEXT NOT NULL, name TEXT NOT NULL, key_type TEXT NOT NULL, public_key TEXT NOT NULL,
                    fingerprint TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (user_id, name))
                """,
                """
                CREATE TABLE compute_quotas (
                    project_id TEXT NOT NULL, resource TEXT NOT NULL, hard_limit BIGINT NOT NULL,
                    PRIMARY KEY (project_id, resource))
                """,
                // One row per project, updated to serialise quota checks of concurrent creates.
                "CREATE TABLE compute_project_locks (project_id TEXT PRIMARY KEY, claims BIGINT NOT NULL)",
                """
                CREATE TABLE compute_aggregates (
                    id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, name TEXT NOT NULL UNIQUE, metadata TEXT NOT NULL,
                    created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION)
                """,
                """
                CREATE TABLE compute_aggregate_hosts (
                    aggregate_id INTEGER NOT NULL REFERENCES compute_aggregates(id) ON DELETE CASCADE, host TEXT NOT NULL,
                    PRIMARY KEY (aggregate_id, host))
                """,
            ]),
        Migration(
            "compute.4",
            sql: [
                // The image's properties at boot (Nova's image_* system metadata), for the scheduler and the driver.
                "ALTER TABLE compute_instances ADD COLUMN image_meta TEXT NOT NULL DEFAULT '{}'",
            ]),
        Migration(
            "compute.5",
            sql: [
                // What the user asked for (networks, fixed IPs, ports) and the ports the build bound.
                "ALTER TABLE compute_instances ADD COLUMN requested_networks TEXT NOT NULL DEFAULT '[]'",
                "ALTER TABLE compute_instances ADD COLUMN ports TEXT NOT NULL DEFAULT '[]'",
            ]),
        Migration(
            "compute.6",
            sql: [
                // What the host's driver says about itself (QEMU's version; cpu_info with the accelerator).
                "ALTER TABLE compute_nodes ADD COLUMN hypervisor_version INTEGER NOT NULL DEFAULT 1",
                "ALTER TABLE compute_nodes ADD COLUMN cpu_info TEXT NOT NULL DEFAULT '{}'",
            ]),
        Migration("compute.7") { engine in
            // Moves of servers between hosts (Nova's migrations table); the id is Nova's integer id.
            let id = engine == .postgresql ? "id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY" : "id INTEGER PRIMARY KEY"
            return [
                """
                CREATE TABLE compute_migrations (
                    \(id), uuid TEXT NOT NULL UNIQUE, instance_uuid TEXT NOT NULL, migration_type TEXT NOT NULL,
                    status TEXT NOT NULL, source_compute TEXT NOT NULL, source_node TEXT NOT NULL, dest_compute TEXT,
                    dest_node TEXT, dest_host TEXT, old_flavor TEXT NOT NULL, new_flavor TEXT NOT NULL, requested_host TEXT,
                    old_vm_state TEXT NOT NULL, user_id TEXT NOT NULL, project_id TEXT NOT NULL, error TEXT,
                    created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL)
                """,
                "CREATE INDEX compute_migrations_instance ON compute_migrations (instance_uuid)",
                "CREATE INDEX compute_migrations_status ON compute_migrations (status)",
            ]
        },
        // A live migration's request, storage check, destination address and progress (JSON); an evacuation's
        // state on its destination.
        Migration("compute.8") { _ in
            ["ALTER TABLE compute_migrations ADD COLUMN live TEXT", "ALTER TABLE compute_migrations ADD COLUMN target_state TEXT"]
        },
        // A group member on the move counts on its source too, until the move ends (Nova's accounting).
        Migration("compute.9") { _ in ["ALTER TABLE compute_server_group_members ADD COLUMN moving_from TEXT"] },
    ]
}
