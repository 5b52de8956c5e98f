use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// B2B: organizations, their members, and the RBAC policy (roles and
/// custom scopes). JSON columns hold small lists (roles, permissions, the
/// Connected Apps settings) that are always read whole.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    // Long on purpose: a migration reads best as the one list of tables and
    // indexes it creates, in order; it never changes once shipped.
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Alias::new("organizations"))
                .if_not_exists()
                .col(string("id").primary_key())
                .col(string("slug").unique_key())
                .col(string("name"))
                .col(text("connected_apps"))
                .col(big_integer("created_at"))
                .col(big_integer("updated_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("members"))
                .if_not_exists()
                .col(string("id").primary_key())
                .col(string("organization_id"))
                .col(string("email"))
                .col(string("name"))
                .col(string("password_hash"))
                .col(text("roles"))
                .col(string("status"))
                .col(big_integer("created_at"))
                .col(big_integer("updated_at"))
                .to_owned(),
        )
        .await?;
        // An email is one member per organization (and may be a member of many).
        m.create_index(
            Index::create()
                .name("members_org_email")
                .table(Alias::new("members"))
                .col(Alias::new("organization_id"))
                .col(Alias::new("email"))
                .unique()
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("members_email")
                .table(Alias::new("members"))
                .col(Alias::new("email"))
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        for (table, key) in [("rbac_roles", "role_id"), ("rbac_scopes", "scope")] {
            m.create_table(
                Table::create()
                    .table(Alias::new(table))
                    .if_not_exists()
                    .col(string(key).primary_key())
                    .col(string("description"))
                    .col(text("permissions"))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in ["rbac_scopes", "rbac_roles", "members", "organizations"] {
            m.drop_table(Table::drop().table(Alias::new(t)).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
