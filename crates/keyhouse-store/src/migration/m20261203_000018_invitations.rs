use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Invitations into an organization (decision 0037): the address, the roles
/// the member will get, who invited, and the SHA-256 of the single-use
/// token the mail carries. A resend replaces the hash (the earlier link
/// dies); accepting or revoking stamps the row, which stays for the
/// organization's history until the purge takes it 30 days after it ended.
///
/// `audit_events.organization_id` says which organization an event belongs
/// to, so that organization's admins can read their own log.
///
/// `organization_domains`: the e-mail domains an organization claims, one
/// organization per domain; `verified_at` is set by an operator. With
/// `organizations.jit_role` set, a person who proved an address at a
/// verified domain may join with that role (decision 0037).
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Alias::new("invitations"))
                .if_not_exists()
                .col(string("id").primary_key())
                .col(string("organization_id"))
                .col(string("email"))
                .col(text("roles"))
                .col(string("invited_by"))
                .col(string("token_hash").unique_key())
                .col(big_integer("created_at"))
                .col(big_integer("sent_at"))
                .col(big_integer("expires_at"))
                .col(big_integer_null("accepted_at"))
                .col(string_null("member_id"))
                .col(big_integer_null("revoked_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("invitations_org_email")
                .table(Alias::new("invitations"))
                .col(Alias::new("organization_id"))
                .col(Alias::new("email"))
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Alias::new("audit_events"))
                .add_column(string_null("organization_id"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("organization_domains"))
                .if_not_exists()
                .col(string("domain").primary_key())
                .col(string("organization_id"))
                .col(big_integer("created_at"))
                .col(big_integer_null("verified_at"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Alias::new("organizations"))
                .add_column(string_null("jit_role"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("audit_events_org")
                .table(Alias::new("audit_events"))
                .col(Alias::new("organization_id"))
                .col(Alias::new("id"))
                .if_not_exists()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("audit_events_org")
                .table(Alias::new("audit_events"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Alias::new("audit_events"))
                .drop_column(Alias::new("organization_id"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Alias::new("organizations"))
                .drop_column(Alias::new("jit_role"))
                .to_owned(),
        )
        .await?;
        m.drop_table(
            Table::drop()
                .table(Alias::new("organization_domains"))
                .if_exists()
                .to_owned(),
        )
        .await?;
        m.drop_table(
            Table::drop()
                .table(Alias::new("invitations"))
                .if_exists()
                .to_owned(),
        )
        .await
    }
}
