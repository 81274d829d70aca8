//! Job centers (the controllers) and service centers (the processors).

use crate::{StoreError, Tx, args};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct JobCenter {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub street: String,
    pub postcode: String,
    pub city: String,
    pub phone: String,
    pub email: String,
    pub state_code: String,
    pub dpo_contact: String,
    pub supervisory_authority: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewJobCenter {
    pub code: String,
    pub name: String,
    pub street: String,
    pub postcode: String,
    pub city: String,
    pub phone: String,
    pub email: String,
    pub state_code: String,
    pub dpo_contact: String,
    pub supervisory_authority: String,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ServiceCenter {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub city: String,
    pub phone: String,
}

// The columns of [`JobCenter`] and [`ServiceCenter`].
macro_rules! job_center_select {
    () => {
        "SELECT id, code, name, street, postcode, city, phone, email, state_code, dpo_contact, supervisory_authority FROM job_centers"
    };
}
macro_rules! service_center_select {
    () => {
        "SELECT id, code, name, city, phone FROM service_centers"
    };
}

pub async fn create_job_center(
    tx: &mut Tx,
    jc: &NewJobCenter,
    now: i64,
) -> Result<i64, StoreError> {
    let (id,): (i64,) = tx
        .fetch_one(
            "INSERT INTO job_centers (code, name, street, postcode, city, phone, email, state_code, dpo_contact, supervisory_authority, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
            args![
                &jc.code,
                &jc.name,
                &jc.street,
                &jc.postcode,
                &jc.city,
                &jc.phone,
                &jc.email,
                &jc.state_code,
                &jc.dpo_contact,
                &jc.supervisory_authority,
                now
            ],
        )
        .await?;
    Ok(id)
}

pub async fn list_job_centers(tx: &mut Tx) -> Result<Vec<JobCenter>, StoreError> {
    tx.fetch_all(concat!(job_center_select!(), " ORDER BY name"), vec![])
        .await
}

pub async fn job_center(tx: &mut Tx, id: i64) -> Result<Option<JobCenter>, StoreError> {
    tx.fetch_optional(concat!(job_center_select!(), " WHERE id = $1"), args![id])
        .await
}

pub async fn job_center_by_code(tx: &mut Tx, code: &str) -> Result<Option<JobCenter>, StoreError> {
    tx.fetch_optional(
        concat!(job_center_select!(), " WHERE code = $1"),
        args![code],
    )
    .await
}

pub async fn create_service_center(
    tx: &mut Tx,
    code: &str,
    name: &str,
    city: &str,
    phone: &str,
    now: i64,
) -> Result<i64, StoreError> {
    let (id,): (i64,) = tx
        .fetch_one(
            "INSERT INTO service_centers (code, name, city, phone, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
            args![code, name, city, phone, now],
        )
        .await?;
    Ok(id)
}

pub async fn list_service_centers(tx: &mut Tx) -> Result<Vec<ServiceCenter>, StoreError> {
    tx.fetch_all(concat!(service_center_select!(), " ORDER BY name"), vec![])
        .await
}

pub async fn service_center(tx: &mut Tx, id: i64) -> Result<Option<ServiceCenter>, StoreError> {
    tx.fetch_optional(
        concat!(service_center_select!(), " WHERE id = $1"),
        args![id],
    )
    .await
}

pub async fn service_center_by_code(
    tx: &mut Tx,
    code: &str,
) -> Result<Option<ServiceCenter>, StoreError> {
    tx.fetch_optional(
        concat!(service_center_select!(), " WHERE code = $1"),
        args![code],
    )
    .await
}
