import StratusStorage

/// Keystone's tables, reduced to what Stratus serves: domains, projects, users, roles, assignments and
/// token revocations.
public enum IdentitySchema {
    public static let migrations: [Migration] = [
        Migration(
            "identity.1",
            sql: [
                """
                CREATE TABLE identity_domains (
                    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, description TEXT NOT NULL DEFAULT '',
                    enabled BOOLEAN NOT NULL)
                """,
                "INSERT INTO identity_domains (id, name, description, enabled) VALUES ('default', 'Default', 'The default domain', TRUE)",
                """
                CREATE TABLE identity_projects (
                    id TEXT PRIMARY KEY, name TEXT NOT NULL, domain_id TEXT NOT NULL REFERENCES identity_domains(id),
                    description TEXT NOT NULL DEFAULT '', enabled BOOLEAN NOT NULL, parent_id TEXT,
                    created_at DOUBLE PRECISION NOT NULL, UNIQUE (domain_id, name))
                """,
                """
                CREATE TABLE identity_users (
                    id TEXT PRIMARY KEY, name TEXT NOT NULL, domain_id TEXT NOT NULL REFERENCES identity_domains(id),
                    password_hash TEXT, enabled BOOLEAN NOT NULL, email TEXT, description TEXT,
                    default_project_id TEXT, created_at DOUBLE PRECISION NOT NULL, UNIQUE (domain_id, name))
                """,
                """
                CREATE TABLE identity_roles (
                    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, description TEXT NOT NULL DEFAULT '')
                """,
                """
                CREATE TABLE identity_assignments (
                    user_id TEXT NOT NULL REFERENCES identity_users(id) ON DELETE CASCADE,
                    project_id TEXT NOT NULL REFERENCES identity_projects(id) ON DELETE CASCADE,
                    role_id TEXT NOT NULL REFERENCES identity_roles(id) ON DELETE CASCADE,
                    PRIMARY KEY (user_id, project_id, role_id))
                """,
                """
                CREATE TABLE identity_revocations (
                    id TEXT PRIMARY KEY, audit_id TEXT, user_id TEXT, project_id TEXT,
                    issued_before DOUBLE PRECISION NOT NULL, expires_at DOUBLE PRECISION NOT NULL)
                """,
            ]),
    ]
}
