import StratusStorage

/// Placement's tables. Usage is never stored: it is the sum of allocations, so it cannot drift.
public enum PlacementSchema {
    /// The PostgreSQL channel provider changes are announced on, as `uuid:generation` (`-1`: deleted).
    public static let changeChannel = "stratus_placement"

    public static let migrations: [Migration] = [
        Migration(
            "placement.1",
            sql: [
                "CREATE TABLE placement_resource_classes (name TEXT PRIMARY KEY, created_at DOUBLE PRECISION NOT NULL)",
                "CREATE TABLE placement_traits (name TEXT PRIMARY KEY, created_at DOUBLE PRECISION NOT NULL)",
                """
                CREATE TABLE placement_providers (
                    uuid TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, generation INTEGER NOT NULL,
                    parent_uuid TEXT REFERENCES placement_providers(uuid), root_uuid TEXT NOT NULL,
                    created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL)
                """,
                "CREATE INDEX placement_providers_root ON placement_providers (root_uuid)",
                """
                CREATE TABLE placement_inventories (
                    provider_uuid TEXT NOT NULL REFERENCES placement_providers(uuid) ON DELETE CASCADE,
                    resource_class TEXT NOT NULL, total BIGINT NOT NULL, reserved BIGINT NOT NULL,
                    min_unit BIGINT NOT NULL, max_unit BIGINT NOT NULL, step_size BIGINT NOT NULL,
                    allocation_ratio DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL,
                    PRIMARY KEY (provider_uuid, resource_class))
                """,
                """
                CREATE TABLE placement_provider_traits (
                    provider_uuid TEXT NOT NULL REFERENCES placement_providers(uuid) ON DELETE CASCADE,
                    trait TEXT NOT NULL, PRIMARY KEY (provider_uuid, trait))
                """,
                "CREATE INDEX placement_provider_traits_trait ON placement_provider_traits (trait)",
                """
                CREATE TABLE placement_provider_aggregates (
                    provider_uuid TEXT NOT NULL REFERENCES placement_providers(uuid) ON DELETE CASCADE,
                    aggregate_uuid TEXT NOT NULL, PRIMARY KEY (provider_uuid, aggregate_uuid))
                """,
                """
                CREATE TABLE placement_consumers (
                    uuid TEXT PRIMARY KEY, project_id TEXT NOT NULL, user_id TEXT NOT NULL,
                    consumer_type TEXT, generation INTEGER NOT NULL,
                    created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL)
                """,
                "CREATE INDEX placement_consumers_project ON placement_consumers (project_id, user_id)",
                """
                CREATE TABLE placement_allocations (
                    consumer_uuid TEXT NOT NULL, provider_uuid TEXT NOT NULL REFERENCES placement_providers(uuid),
                    resource_class TEXT NOT NULL, used BIGINT NOT NULL, created_at DOUBLE PRECISION NOT NULL,
                    PRIMARY KEY (consumer_uuid, provider_uuid, resource_class))
                """,
                "CREATE INDEX placement_allocations_provider ON placement_allocations (provider_uuid, resource_class)",
            ]),
        // Every committed change of a provider (its generation moves on inventory, traits, aggregates and
        // allocations alike) is announced to every process, so each one's index follows (PlacementIndexFollower).
        // SQLite has one process, which refreshes its own index after each write.
        Migration("placement.2") { engine in
            guard engine == .postgresql else { return [] }
            return [
                """
                CREATE FUNCTION placement_announce() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP = 'DELETE' THEN
                        PERFORM pg_notify('\(PlacementSchema.changeChannel)', OLD.uuid || ':-1');
                        RETURN OLD;
                    END IF;
                    PERFORM pg_notify('\(PlacementSchema.changeChannel)', NEW.uuid || ':' || NEW.generation);
                    RETURN NEW;
                END $$
                """,
                """
                CREATE TRIGGER placement_providers_announce AFTER INSERT OR UPDATE OR DELETE ON placement_providers
                FOR EACH ROW EXECUTE FUNCTION placement_announce()
                """,
            ]
        },
    ]
}
