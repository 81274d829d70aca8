//! The Outreach domain: who may do what, the rules of accounts, mandates and the
//! audit chain, and the value types customer data is made of. Pure: no I/O, no
//! async, no SQL.

pub mod access;
pub mod account;
pub mod api_token;
pub mod audit;
pub mod calls;
pub mod campaign;
pub mod customer;
pub mod date;
pub mod directory;
pub mod guide;
pub mod import;
pub mod invitation;
pub mod mandate;
pub mod metrics;
pub mod phone;
pub mod privacy;
pub mod results;
pub mod second_factor;
pub mod spreadsheet;
pub mod statistics;
pub mod text;
