//! The notes table.

use sea_orm::entity::prelude::*;
use sea_orm::{QueryOrder, Set};
use sea_orm_migration::MigratorTrait;

use crate::notes::{AppError, NewNote, Note};

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
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
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
    pub async fn migrate(&self) -> Result<(), DbErr> {
        super::migration::Migrator::up(&self.db, None).await
    }

    /// `user_id`'s notes, newest first.
    pub async fn list(&self, user_id: &str) -> Result<Vec<Note>, AppError> {
        let rows = entity::Entity::find()
            .filter(entity::Column::UserId.eq(user_id))
            .order_by_desc(entity::Column::CreatedAt)
            .order_by_desc(entity::Column::Id)
            .all(&self.db)
            .await
            .map_err(unavailable)?;
        Ok(rows.into_iter().map(to_note).collect())
    }

    /// One of `user_id`'s notes.
    pub async fn get(&self, user_id: &str, id: &str) -> Result<Option<Note>, AppError> {
        let row = entity::Entity::find_by_id(id.to_owned())
            .filter(entity::Column::UserId.eq(user_id))
            .one(&self.db)
            .await
            .map_err(unavailable)?;
        Ok(row.map(to_note))
    }

    /// Creates a note (already validated by [`NewNote::validated`]).
    pub async fn create(&self, user_id: &str, note: NewNote) -> Result<Note, AppError> {
        let model = entity::ActiveModel {
            id: Set(format!("note_{}", uuid::Uuid::new_v4().simple())),
            user_id: Set(user_id.to_owned()),
            title: Set(note.title),
            body: Set(note.body),
            created_at: Set(now()),
        };
        let saved = model.insert(&self.db).await.map_err(unavailable)?;
        Ok(to_note(saved))
    }

    /// Deletes one of `user_id`'s notes; `false` when there was none.
    pub async fn delete(&self, user_id: &str, id: &str) -> Result<bool, AppError> {
        let res = entity::Entity::delete_many()
            .filter(entity::Column::Id.eq(id))
            .filter(entity::Column::UserId.eq(user_id))
            .exec(&self.db)
            .await
            .map_err(unavailable)?;
        Ok(res.rows_affected == 1)
    }
}
