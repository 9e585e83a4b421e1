//! Kintsugi: a self-hosted, server-rendered website engine for breakup coaches.
pub mod assets;
pub mod backup;
pub mod clock;
pub mod config;
pub mod content;
pub mod db;
pub mod domain;
pub mod error;
pub mod i18n;
pub mod keys;
pub mod mail;
pub mod notify;
pub mod pages;
pub mod passwords;
pub mod startup;
pub mod telemetry;
pub mod web;
