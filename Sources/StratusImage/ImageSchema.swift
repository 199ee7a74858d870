import StratusStorage

/// Glance's tables, reduced: images (properties and tags kept as JSON) and image members.
public enum ImageSchema {
    public static let migrations: [Migration] = [
        Migration(
            "image.1",
            sql: [
                """
                CREATE TABLE image_images (
                    id TEXT PRIMARY KEY, name TEXT, status TEXT NOT NULL, visibility TEXT NOT NULL, protected BOOLEAN NOT NULL,
                    os_hidden BOOLEAN NOT NULL, disk_format TEXT, container_format TEXT, min_disk INTEGER NOT NULL,
                    min_ram INTEGER NOT NULL, size BIGINT, virtual_size BIGINT, checksum TEXT, os_hash_algo TEXT,
                    os_hash_value TEXT, owner TEXT NOT NULL, properties TEXT NOT NULL, tags TEXT NOT NULL,
                    created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL)
                """,
                """
                CREATE TABLE image_members (
                    image_id TEXT NOT NULL REFERENCES image_images(id) ON DELETE CASCADE, member TEXT NOT NULL,
                    status TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL,
                    PRIMARY KEY (image_id, member))
                """,
            ]),
    ]
}
