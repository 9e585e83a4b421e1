//! Moving in from other systems: `kintsugi import wordpress EXPORT.xml`.
pub mod wordpress;
