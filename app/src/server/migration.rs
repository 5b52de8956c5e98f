//! The app's own migrations, tracked in their own table so they never mix
//! with the identity provider's.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub(crate) struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(CreateNotes), Box::new(OrganizationNotes)]
    }

    fn migration_table_name() -> DynIden {
        Alias::new("keyhouse_app_migrations").into_iden()
    }
}

struct CreateNotes;

impl MigrationName for CreateNotes {
    fn name(&self) -> &str {
        "m20261126_000001_notes"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateNotes {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Alias::new("notes"))
                .if_not_exists()
                .col(string("id").primary_key())
                .col(string("user_id"))
                .col(string("title"))
                .col(text("body"))
                .col(big_integer("created_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("notes_user_created")
                .table(Alias::new("notes"))
                .col(Alias::new("user_id"))
                .col(Alias::new("created_at"))
                .if_not_exists()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Alias::new("notes")).to_owned())
            .await
    }
}

/// B2B: notes shared by the members of an organization carry its id
/// (`user_id` is then the member who wrote it).
struct OrganizationNotes;

impl MigrationName for OrganizationNotes {
    fn name(&self) -> &str {
        "m20261126_000002_organization_notes"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for OrganizationNotes {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("notes"))
                .add_column(string_null("organization_id"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("notes_org_created")
                .table(Alias::new("notes"))
                .col(Alias::new("organization_id"))
                .col(Alias::new("created_at"))
                .if_not_exists()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("notes_org_created")
                .table(Alias::new("notes"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Alias::new("notes"))
                .drop_column(Alias::new("organization_id"))
                .to_owned(),
        )
        .await
    }
}
