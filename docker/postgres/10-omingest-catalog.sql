-- Run once by the postgres image when its volume is first initialised: the database that holds
-- the omingest catalog (connections omingest_catalog and omingest_demo_catalog point at it).
CREATE DATABASE omingest OWNER airflow;
