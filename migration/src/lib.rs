//! simrotor's schema as ordered sea-orm-migration steps. The runtime applies them at start-up
//! (`Migrator::up`), so a fresh database and an old one end at the same schema.

pub use sea_orm_migration::prelude::*;

mod m20261124_000001_create_tables;
mod m20261124_000002_suspect_resolution;
mod m20261201_000001_sessions_and_answers;
mod m20261202_000001_unique_trx_id;
mod m20261203_000001_sms_channels;
mod m20261204_000001_books;
mod m20261205_000001_ownership;

#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_create_tables::Migration),
            Box::new(m20261124_000002_suspect_resolution::Migration),
            Box::new(m20261201_000001_sessions_and_answers::Migration),
            Box::new(m20261202_000001_unique_trx_id::Migration),
            Box::new(m20261203_000001_sms_channels::Migration),
            Box::new(m20261204_000001_books::Migration),
            Box::new(m20261205_000001_ownership::Migration),
        ]
    }
}
