DROP TABLE site_meta;
