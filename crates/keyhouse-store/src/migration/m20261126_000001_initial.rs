use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn table(name: &'static str) -> TableCreateStatement {
    Table::create()
        .table(Alias::new(name))
        .if_not_exists()
        .to_owned()
}

fn index(name: &'static str, table: &'static str, cols: &[&'static str]) -> IndexCreateStatement {
    let mut idx = Index::create();
    idx.name(name).table(Alias::new(table)).if_not_exists();
    for c in cols {
        idx.col(Alias::new(*c));
    }
    idx.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    // Long on purpose: a migration reads best as the one list of tables and
    // indexes it creates, in order; it never changes once shipped.
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let tables = [
            table("users")
                .col(string("id").primary_key())
                .col(string_uniq("email"))
                .col(string("password_hash"))
                .col(string("name"))
                .col(boolean("email_verified"))
                .col(big_integer("created_at"))
                .col(big_integer("updated_at"))
                .to_owned(),
            table("sessions")
                .col(string("id_hash").primary_key())
                .col(string("subject_kind"))
                .col(string("subject_id"))
                .col(string_null("organization_id"))
                .col(big_integer("auth_time"))
                .col(big_integer("created_at"))
                .col(big_integer("expires_at"))
                .to_owned(),
            table("clients")
                .col(string("id").primary_key())
                .col(string("client_type"))
                .col(string("name"))
                .col(text("description"))
                .col(text_null("logo_uri"))
                .col(text("redirect_uris"))
                .col(big_integer("access_token_ttl"))
                .col(string("refresh_policy"))
                .col(big_integer("created_at"))
                .to_owned(),
            table("client_secrets")
                .col(string("id").primary_key())
                .col(string("client_id"))
                .col(string("secret_hash"))
                .col(string("state"))
                .col(big_integer("created_at"))
                .to_owned(),
            table("grants")
                .col(string("id").primary_key())
                .col(string("subject_id"))
                .col(string("client_id"))
                .col(text("resource"))
                .col(text("scopes"))
                .col(big_integer("created_at"))
                .col(big_integer("updated_at"))
                .to_owned(),
            table("authorization_codes")
                .col(string("code_hash").primary_key())
                .col(string("client_id"))
                .col(text("redirect_uri"))
                .col(string("subject_id"))
                .col(string_null("organization_id"))
                .col(text("scopes"))
                .col(text_null("nonce"))
                .col(string_null("code_challenge"))
                .col(text_null("resource"))
                .col(big_integer("auth_time"))
                .col(string("family_id"))
                .col(big_integer("created_at"))
                .col(big_integer("expires_at"))
                .col(big_integer_null("consumed_at"))
                .to_owned(),
            table("token_families")
                .col(string("id").primary_key())
                .col(string("client_id"))
                .col(string("subject_id"))
                .col(string_null("organization_id"))
                .col(text("scopes"))
                .col(text_null("resource"))
                .col(big_integer("auth_time"))
                .col(big_integer("created_at"))
                .col(big_integer("expires_at"))
                .col(big_integer_null("revoked_at"))
                .to_owned(),
            table("refresh_tokens")
                .col(string("token_hash").primary_key())
                .col(string("family_id"))
                .col(big_integer("created_at"))
                .col(big_integer("expires_at"))
                .col(big_integer_null("rotated_at"))
                .to_owned(),
            table("revoked_tokens")
                .col(string("jti").primary_key())
                .col(big_integer("expires_at"))
                .to_owned(),
            table("signing_keys")
                .col(string("kid").primary_key())
                .col(string("alg"))
                .col(string("state"))
                .col(text("private_key"))
                .col(text("public_jwk"))
                .col(big_integer("created_at"))
                .col(big_integer_null("activated_at"))
                .col(big_integer_null("retire_at"))
                .to_owned(),
        ];
        for t in tables {
            m.create_table(t).await?;
        }
        let indexes = [
            index("idx_sessions_subject", "sessions", &["subject_id"]),
            index("idx_sessions_expires", "sessions", &["expires_at"]),
            index(
                "idx_client_secrets_client",
                "client_secrets",
                &["client_id"],
            ),
            index("idx_codes_client", "authorization_codes", &["client_id"]),
            index("idx_codes_expires", "authorization_codes", &["expires_at"]),
            index("idx_families_client", "token_families", &["client_id"]),
            index("idx_families_subject", "token_families", &["subject_id"]),
            index("idx_refresh_family", "refresh_tokens", &["family_id"]),
            index("idx_revoked_expires", "revoked_tokens", &["expires_at"]),
        ];
        for i in indexes {
            m.create_index(i).await?;
        }
        m.create_index(
            index(
                "uq_grants_subject_client_resource",
                "grants",
                &["subject_id", "client_id", "resource"],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for name in [
            "signing_keys",
            "revoked_tokens",
            "refresh_tokens",
            "token_families",
            "authorization_codes",
            "grants",
            "client_secrets",
            "clients",
            "sessions",
            "users",
        ] {
            m.drop_table(Table::drop().table(Alias::new(name)).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
