use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// What each client's ID tokens are signed with
/// (`id_token_signed_response_alg`: `RS256`, `ES256` or `EdDSA`). Every
/// client registered before gets `RS256`, what its ID tokens were signed
/// with until now. The EdDSA signing keys need no schema change: they are
/// rows of `signing_keys` with `alg = 'EdDSA'`, added at the next start.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("clients"))
                .add_column(string("id_token_signed_response_alg").default("RS256"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("clients"))
                .drop_column(Alias::new("id_token_signed_response_alg"))
                .to_owned(),
        )
        .await
    }
}
