//! The notes table.

use sea_orm::entity::prelude::*;
use sea_orm::{QueryOrder, Set};
use sea_orm_migration::MigratorTrait;

use crate::error::AppError;
use crate::notes::{NewNote, Note};

mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "notes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub user_id: String,
        pub title: String,
        #[sea_orm(column_type = "Text")]
        pub body: String,
        pub created_at: i64,
        /// Set for an organization's shared notes (B2B).
        pub organization_id: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Whose notes: one user's own, or an organization's shared ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner<'a> {
    /// A user's private notes.
    User(&'a str),
    /// An organization's notes (every member sees them).
    Organization {
        /// The organization.
        id: &'a str,
        /// The member writing (recorded as the author).
        member_id: &'a str,
    },
}

impl Owner<'_> {
    fn filter<Q: QueryFilter>(self, q: Q) -> Q {
        match self {
            Owner::User(u) => q
                .filter(entity::Column::UserId.eq(u))
                .filter(entity::Column::OrganizationId.is_null()),
            Owner::Organization { id, .. } => q.filter(entity::Column::OrganizationId.eq(id)),
        }
    }
}

/// The notes of every user, in the same database as the identity provider.
#[derive(Clone, Debug)]
pub struct NotesStore {
    db: DatabaseConnection,
}

fn unavailable(e: DbErr) -> AppError {
    tracing::warn!(error = %e, "notes store");
    AppError::Unavailable
}

fn to_note(m: entity::Model) -> Note {
    Note {
        id: m.id,
        title: m.title,
        body: m.body,
        created_at: m.created_at,
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

impl NotesStore {
    /// Uses `db` (the identity provider's connection: one database, one pool).
    pub fn new(db: DatabaseConnection) -> NotesStore {
        NotesStore { db }
    }

    /// Creates the notes table when missing.
    ///
    /// On PostgreSQL under a transaction-scoped advisory lock of its own, as
    /// Keyhouse's migrations are: instances starting together on one
    /// database take turns, and the later ones find nothing to do.
    pub async fn migrate(&self) -> Result<(), DbErr> {
        use sea_orm::{ConnectionTrait, DatabaseBackend, TransactionTrait};
        if self.db.get_database_backend() != DatabaseBackend::Postgres {
            return super::migration::Migrator::up(&self.db, None).await;
        }
        let txn = self.db.begin().await?;
        // A key of its own ("notes" in ASCII), not Keyhouse's.
        txn.execute_unprepared("SELECT pg_advisory_xact_lock(1852798053)")
            .await?;
        super::migration::Migrator::up(&txn, None).await?;
        txn.commit().await
    }

    /// `owner`'s notes, newest first.
    pub async fn list(&self, owner: Owner<'_>) -> Result<Vec<Note>, AppError> {
        let rows = owner
            .filter(entity::Entity::find())
            .order_by_desc(entity::Column::CreatedAt)
            .order_by_desc(entity::Column::Id)
            .all(&self.db)
            .await
            .map_err(unavailable)?;
        Ok(rows.into_iter().map(to_note).collect())
    }

    /// One of `owner`'s notes.
    pub async fn get(&self, owner: Owner<'_>, id: &str) -> Result<Option<Note>, AppError> {
        let row = owner
            .filter(entity::Entity::find_by_id(id.to_owned()))
            .one(&self.db)
            .await
            .map_err(unavailable)?;
        Ok(row.map(to_note))
    }

    /// Creates a note (already validated by [`NewNote::validated`]).
    pub async fn create(&self, owner: Owner<'_>, note: NewNote) -> Result<Note, AppError> {
        let (user_id, organization_id) = match owner {
            Owner::User(u) => (u, None),
            Owner::Organization { id, member_id } => (member_id, Some(id.to_owned())),
        };
        let model = entity::ActiveModel {
            id: Set(format!("note_{}", uuid::Uuid::new_v4().simple())),
            user_id: Set(user_id.to_owned()),
            organization_id: Set(organization_id),
            title: Set(note.title),
            body: Set(note.body),
            created_at: Set(now()),
        };
        let saved = model.insert(&self.db).await.map_err(unavailable)?;
        Ok(to_note(saved))
    }

    /// Deletes one of `owner`'s notes; `false` when there was none.
    pub async fn delete(&self, owner: Owner<'_>, id: &str) -> Result<bool, AppError> {
        let res = owner
            .filter(entity::Entity::delete_many().filter(entity::Column::Id.eq(id)))
            .exec(&self.db)
            .await
            .map_err(unavailable)?;
        Ok(res.rows_affected == 1)
    }

    /// Deletes every private note of a user (their account is being
    /// deleted); how many went. Organization notes stay with the
    /// organization.
    pub async fn delete_all_of_user(&self, user_id: &str) -> Result<u64, DbErr> {
        Ok(Owner::User(user_id)
            .filter(entity::Entity::delete_many())
            .exec(&self.db)
            .await?
            .rows_affected)
    }
}
