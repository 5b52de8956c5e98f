use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Single sign-on through an organization's own OpenID Provider (decision
/// 0038).
///
/// `organization_sso`: one connection per organization: the upstream
/// issuer, the client id and the sealed client secret Keyhouse uses there,
/// the claim whose values map to roles, the mapping, the role of people it
/// provisions, and when a test of the connection last succeeded.
///
/// `sso_links`: an upstream account (`iss`, `sub`) tied to one member; the
/// id is the SHA-256 of the three, so a second tie for the same account
/// conflicts.
///
/// `sso_requests`: sign-ins under way: the `state` hash, the `nonce`, the
/// PKCE verifier, the hash of the browser binding cookie, where to go
/// afterwards. Taken once by the callback; the purge removes the rest.
///
/// `organizations.sso_required`: the organization's members sign in only
/// through the connection.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Alias::new("organization_sso"))
                .if_not_exists()
                .col(string("organization_id").primary_key())
                .col(string("issuer"))
                .col(string("client_id"))
                .col(text("client_secret"))
                .col(string("groups_claim"))
                .col(text("role_mappings"))
                .col(string_null("provision_role"))
                .col(big_integer_null("tested_at"))
                .col(big_integer("updated_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("sso_links"))
                .if_not_exists()
                .col(string("id").primary_key())
                .col(string("organization_id"))
                .col(string("member_id"))
                .col(big_integer("created_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("sso_links_member")
                .table(Alias::new("sso_links"))
                .col(Alias::new("member_id"))
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("sso_requests"))
                .if_not_exists()
                .col(string("state_hash").primary_key())
                .col(string("organization_id"))
                .col(string("issuer"))
                .col(string("client_id"))
                .col(string("nonce"))
                .col(text("pkce_verifier"))
                .col(string("binding_hash"))
                .col(text_null("return_to"))
                .col(string_null("tested_by"))
                .col(big_integer("expires_at"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Alias::new("organizations"))
                .add_column(boolean("sso_required").default(false))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("organizations"))
                .drop_column(Alias::new("sso_required"))
                .to_owned(),
        )
        .await?;
        for table in ["sso_requests", "sso_links", "organization_sso"] {
            m.drop_table(
                Table::drop()
                    .table(Alias::new(table))
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
