import StratusStorage

/// Nova's tables, growing with the compute issue: flavors first.
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
    ]
}
