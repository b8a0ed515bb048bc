-- Redshift system views stood in on PostgreSQL 15, installed by a superuser in each test database.
--
-- The views live in pg_catalog (allow_system_table_mods) so that the source's unqualified
-- Redshift SQL finds them, with the column names and types Redshift documents. What plain
-- PostgreSQL cannot express (DISTSTYLE/SORTKEY/ENCODE, Spectrum schemas, late-binding views,
-- materialized views shown as views) is declared in tables of schema omingest_standin.
-- An event trigger logs every DDL statement into omingest_standin.query_log, which feeds
-- SYS_QUERY_HISTORY (text cut at 4,000 characters, blank-padded), SYS_QUERY_TEXT (the whole text
-- in 4,000-character rows) and STL_DDLTEXT (200-character chunks, DDL only), so real DDL shows up
-- in the change query. Each rule cites the page of Redshift's Database Developer Guide it follows
-- (https://docs.aws.amazon.com/redshift/latest/dg/<page>). A test can also record a statement
-- that plain PostgreSQL cannot run (a #temp table) as Redshift would log it.

SET allow_system_table_mods = on;

-- Stands in for ALTER USER … SYSLOG ACCESS UNRESTRICTED: members see every user's history rows.
DO $$ BEGIN CREATE ROLE syslog_unrestricted NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;

CREATE SCHEMA omingest_standin;

CREATE TABLE omingest_standin.query_log (
    query_id bigserial PRIMARY KEY,
    user_id int,
    usename name,
    transaction_id bigint,
    session_id int,
    database_name text,
    query_type text,
    status text,
    start_time timestamp,
    end_time timestamp,
    query_text text
);

CREATE TABLE omingest_standin.table_settings (
    schemaname name, tablename name, diststyle text, distkey name, sortkeys name[],
    interleaved boolean DEFAULT false, encodings jsonb DEFAULT '{}'
);
CREATE TABLE omingest_standin.redshift_mvs (
    schemaname name, name name, autorefresh char(1) DEFAULT 'f', autorewrite char(1) DEFAULT 't'
);
CREATE TABLE omingest_standin.late_binding_views (schemaname name, viewname name);
-- A late-binding view (CREATE VIEW ... WITH NO SCHEMA BINDING) "isn't bound to the underlying
-- database objects ... there is no dependency between the view and the objects it references"
-- (r_CREATE_VIEW.html): declaring one removes its rewrite rule's dependencies on what it reads,
-- so pg_depend shows none (and the tables it reads can be dropped, as in Redshift).
CREATE FUNCTION omingest_standin.unbind_late_binding_view() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM pg_catalog.pg_depend d
    USING pg_catalog.pg_rewrite r, pg_catalog.pg_class c, pg_catalog.pg_namespace n
    WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid AND d.deptype = 'n'
      AND r.ev_class = c.oid AND c.relnamespace = n.oid
      AND n.nspname = NEW.schemaname AND c.relname = NEW.viewname AND d.refobjid <> c.oid;
    RETURN NEW;
END $$;
CREATE TRIGGER unbind AFTER INSERT ON omingest_standin.late_binding_views
    FOR EACH ROW EXECUTE FUNCTION omingest_standin.unbind_late_binding_view();
CREATE TABLE omingest_standin.external_schemas (
    schemaname name PRIMARY KEY, databasename text, eskind int DEFAULT 1, esoptions text
);
CREATE TABLE omingest_standin.external_tables (
    schemaname name, tablename name, location text, input_format text, output_format text,
    serialization_lib text, serde_parameters text, compressed int DEFAULT 0, parameters text, tabletype text
);
CREATE TABLE omingest_standin.external_columns (
    schemaname name, tablename name, columnname name, external_type text, columnnum int,
    part_key int DEFAULT 0, is_nullable text DEFAULT 'true'
);

-- History starts a day ago (the cluster's oldest retained query).
INSERT INTO omingest_standin.query_log (user_id, usename, transaction_id, session_id, database_name, query_type,
                                       status, start_time, end_time, query_text)
VALUES (1, 'rdsdb', 1, 1, current_database(), 'SELECT', 'success',
        (now() AT TIME ZONE 'UTC') - interval '1 day', (now() AT TIME ZONE 'UTC') - interval '1 day', 'select 1');

-- query_type takes the documented values (SYS_QUERY_HISTORY.html: "SELECT, INSERT, UPDATE, UNLOAD,
-- COPY, COMMAND, DDL, UTILITY, CTAS, and OTHER"): COMMENT is a UTILITY statement, CREATE TABLE AS and
-- SELECT INTO are CTAS, other DDL is DDL. status values are lowercase ("success").
CREATE FUNCTION omingest_standin.log_ddl() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    INSERT INTO omingest_standin.query_log (user_id, usename, transaction_id, session_id, database_name, query_type,
                                           status, start_time, end_time, query_text)
    VALUES ((SELECT usesysid FROM pg_user WHERE usename = session_user), session_user, txid_current(),
            pg_backend_pid(), current_database(),
            CASE WHEN tg_tag = 'COMMENT' THEN 'UTILITY'
                 WHEN tg_tag IN ('CREATE TABLE AS', 'SELECT INTO') THEN 'CTAS'
                 ELSE 'DDL' END,
            'success', clock_timestamp() AT TIME ZONE 'UTC', clock_timestamp() AT TIME ZONE 'UTC',
            current_query());
END $$;
CREATE EVENT TRIGGER omingest_log_ddl ON ddl_command_end EXECUTE FUNCTION omingest_standin.log_ddl();

-- GETDATE "returns the current date and time in the current session time zone (UTC by default). It
-- returns the start date or time of the current statement, even when it is within a transaction block"
-- (r_GETDATE.html). The session time zone is the timezone setting (r_timezone_config.html: SET timezone,
-- or ALTER USER ... SET timezone for later sessions), which PostgreSQL's TimeZone models: a cast of
-- statement_timestamp() to timestamp is in it. SYSDATE ("the start of the current transaction", in the
-- session time zone: r_SYSDATE.html) has no parentheses, which PostgreSQL cannot define: the test proxy
-- rewrites it to localtimestamp, which is exactly that.
CREATE FUNCTION pg_catalog.getdate() RETURNS timestamp
LANGUAGE sql STABLE AS $$ SELECT statement_timestamp()::timestamp $$;

-- SYS_QUERY_HISTORY.html: query_text is character(4000) "and might be truncated"; times are UTC;
-- superusers see every row, regular users only their own (cm_chap_system-tables.html#c_visibility-of-data).
CREATE VIEW pg_catalog.sys_query_history AS
SELECT l.user_id, l.query_id, ''::char(320) AS query_label, l.transaction_id, l.session_id,
       l.database_name::char(128) AS database_name, l.query_type::char(32) AS query_type,
       l.status::char(10) AS status, false AS result_cache_hit, l.start_time, l.end_time,
       0::bigint AS elapsed_time, 0::bigint AS queue_time, 0::bigint AS execution_time,
       ''::char(512) AS error_message, 0::bigint AS returned_rows, 0::bigint AS returned_bytes,
       left(l.query_text, 4000)::char(4000) AS query_text
FROM omingest_standin.query_log l
WHERE l.usename = session_user OR (SELECT usesuper FROM pg_user WHERE usename = session_user)
   OR pg_has_role(session_user, 'syslog_unrestricted', 'MEMBER');

-- SYS_QUERY_TEXT.html: "the query text of all queries" (DDL and utility included), 4,000 characters per
-- row numbered by sequence from 0, with the query_id of SYS_QUERY_HISTORY; the text "might contain
-- special characters such as backslash (\\) and newline (\n)", escaped here as STL_DDLTEXT's is.
-- Available on provisioned clusters and Serverless alike (serverless_views-monitoring.html).
CREATE VIEW pg_catalog.sys_query_text AS
SELECT l.user_id, l.query_id, l.transaction_id, l.session_id, l.start_time, g.seq AS sequence,
       substr(e.escaped, g.seq * 4000 + 1, 4000)::char(4000) AS text
FROM omingest_standin.query_log l
CROSS JOIN LATERAL (SELECT replace(replace(l.query_text, '\', '\\'), E'\n', '\n') AS escaped) e
CROSS JOIN LATERAL generate_series(0, greatest((length(e.escaped) - 1) / 4000, 0)) AS g(seq)
WHERE l.usename = session_user OR (SELECT usesuper FROM pg_user WHERE usename = session_user)
   OR pg_has_role(session_user, 'syslog_unrestricted', 'MEMBER');

-- r_STL_DDLTEXT.html: CREATE/DROP SCHEMA, TABLE, VIEW and ALTER SCHEMA, TABLE only (no CTAS, no
-- COMMENT), in 200-character rows. STL views exist on provisioned clusters only
-- (c_intro_system_views.html, "System monitoring (provisioned only)"): the serverless stand-in drops it.
CREATE VIEW pg_catalog.stl_ddltext AS
SELECT l.user_id AS userid, l.transaction_id AS xid, l.session_id AS pid, ''::char(320) AS label,
       l.start_time AS starttime, l.end_time AS endtime, g.seq AS sequence,
       substr(e.escaped, g.seq * 200 + 1, 200)::char(200) AS text
FROM omingest_standin.query_log l
CROSS JOIN LATERAL (SELECT replace(replace(l.query_text, '\', '\\'), E'\n', '\n') AS escaped) e
CROSS JOIN LATERAL generate_series(0, greatest((length(e.escaped) - 1) / 200, 0)) AS g(seq)
WHERE l.query_type = 'DDL'
  AND (l.usename = session_user OR (SELECT usesuper FROM pg_user WHERE usename = session_user)
       OR pg_has_role(session_user, 'syslog_unrestricted', 'MEMBER'));

CREATE VIEW pg_catalog.svv_external_schemas AS
SELECT n.oid AS esoid, e.eskind, e.schemaname, n.nspowner::int AS esowner, e.databasename, e.esoptions
FROM omingest_standin.external_schemas e JOIN pg_namespace n ON n.nspname = e.schemaname;

CREATE VIEW pg_catalog.svv_external_tables AS
SELECT e.databasename AS redshift_database_name, t.schemaname, t.tablename, t.location, t.input_format,
       t.output_format, t.serialization_lib, t.serde_parameters, t.compressed, t.parameters, t.tabletype
FROM omingest_standin.external_tables t JOIN omingest_standin.external_schemas e USING (schemaname);

CREATE VIEW pg_catalog.svv_external_columns AS
SELECT e.databasename AS redshift_database_name, c.schemaname, c.tablename, c.columnname, c.external_type,
       c.columnnum, c.part_key, c.is_nullable
FROM omingest_standin.external_columns c JOIN omingest_standin.external_schemas e USING (schemaname);

CREATE VIEW pg_catalog.svv_mv_info AS
SELECT current_database()::char(128) AS database_name, schemaname::char(128) AS schema_name,
       matviewowner::char(128) AS user_name, matviewname::char(128) AS name, 'f'::char(1) AS is_stale,
       1 AS state, 'f'::char(1) AS autorefresh, 'f'::char(1) AS autorewrite
FROM pg_matviews
UNION ALL
SELECT current_database()::char(128), schemaname::char(128), 'rdsdb'::char(128), name::char(128), 'f'::char(1),
       1, autorefresh, autorewrite
FROM omingest_standin.redshift_mvs;

-- information_schema.columns leaves materialized views out; Redshift lists their columns.
CREATE VIEW omingest_standin.matview_columns AS
SELECT current_database()::text AS table_catalog, n.nspname::text AS table_schema, c.relname::text AS table_name,
       a.attname::text AS column_name, a.attnum::int AS ordinal_position, NULL::text AS column_default,
       CASE WHEN a.attnotnull THEN 'NO' ELSE 'YES' END AS is_nullable,
       format_type(a.atttypid, NULL) AS data_type,
       information_schema._pg_char_max_length(a.atttypid, a.atttypmod) AS character_maximum_length,
       information_schema._pg_numeric_precision(a.atttypid, a.atttypmod) AS numeric_precision,
       information_schema._pg_numeric_scale(a.atttypid, a.atttypmod) AS numeric_scale
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind = 'm';

CREATE VIEW pg_catalog.svv_all_columns AS
SELECT c.table_catalog::varchar(128) AS database_name, c.table_schema::varchar(128) AS schema_name,
       c.table_name::varchar(128) AS table_name, c.column_name::varchar(128) AS column_name,
       c.ordinal_position::int AS ordinal_position, c.column_default::varchar(4000) AS column_default,
       c.is_nullable::varchar(3) AS is_nullable, c.data_type::varchar(128) AS data_type,
       c.character_maximum_length::int AS character_maximum_length, c.numeric_precision::int AS numeric_precision,
       c.numeric_scale::int AS numeric_scale,
       col_description(format('%I.%I', c.table_schema, c.table_name)::regclass, c.ordinal_position::int)::varchar(256)
           AS remarks
FROM (SELECT table_catalog::text, table_schema::text, table_name::text, column_name::text, ordinal_position::int,
             column_default::text, is_nullable::text, data_type::text, character_maximum_length::int,
             numeric_precision::int, numeric_scale::int
      FROM information_schema.columns
      UNION ALL
      SELECT * FROM omingest_standin.matview_columns) c
WHERE c.table_schema NOT IN ('pg_catalog', 'information_schema', 'omingest_standin')
  AND NOT EXISTS (SELECT 1 FROM omingest_standin.late_binding_views l
                  WHERE l.schemaname = c.table_schema AND l.viewname = c.table_name)
UNION ALL
SELECT current_database()::varchar(128), c.schemaname::varchar(128), c.tablename::varchar(128),
       c.columnname::varchar(128), c.columnnum, NULL, CASE WHEN c.is_nullable = 'false' THEN 'NO' ELSE 'YES' END,
       c.external_type::varchar(128), NULL, NULL, NULL, NULL
FROM omingest_standin.external_columns c;

CREATE VIEW pg_catalog.svv_redshift_columns AS
SELECT current_database()::varchar(128) AS database_name, n.nspname::varchar(128) AS schema_name,
       c.relname::varchar(128) AS table_name, a.attname::varchar(128) AS column_name,
       a.attnum::int AS ordinal_position, format_type(a.atttypid, a.atttypmod)::varchar(32) AS data_type,
       NULL::varchar(4000) AS column_default, CASE WHEN a.attnotnull THEN 'NO' ELSE 'YES' END::varchar(3) AS is_nullable,
       coalesce(s.encodings ->> a.attname::text, 'none')::varchar(128) AS encoding,
       coalesce(s.distkey = a.attname, false) AS distkey,
       (coalesce(array_position(s.sortkeys, a.attname), 0)
        * CASE WHEN s.interleaved THEN -1 ELSE 1 END)::int AS sortkey,
       NULL::varchar(128) AS column_acl,
       col_description(c.oid, a.attnum)::varchar(256) AS remarks
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN omingest_standin.table_settings s ON s.schemaname = n.nspname AND s.tablename = c.relname
WHERE c.relkind IN ('r', 'v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'omingest_standin');

-- Like Redshift, tables without data are left out unless their settings were declared.
CREATE VIEW pg_catalog.svv_table_info AS
SELECT current_database()::text AS database, n.nspname::text AS schema, c.oid::int AS table_id,
       c.relname::text AS "table", 'Y'::text AS encoded, coalesce(s.diststyle, 'AUTO(EVEN)')::text AS diststyle,
       s.sortkeys[1]::text AS sortkey1, 0 AS max_varchar, coalesce(array_length(s.sortkeys, 1), 0) AS sortkey_num,
       0::bigint AS size, 0::numeric(10, 4) AS pct_used, greatest(c.reltuples, 0)::numeric(38, 0) AS tbl_rows,
       NULL::timestamp AS create_time
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN omingest_standin.table_settings s ON s.schemaname = n.nspname AND s.tablename = c.relname
WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'omingest_standin')
  AND (s.tablename IS NOT NULL OR c.reltuples > 0);

CREATE FUNCTION pg_catalog.pg_get_late_binding_view_cols() RETURNS SETOF record
LANGUAGE sql STABLE AS $$
    SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod)::varchar, a.attnum::int
    FROM omingest_standin.late_binding_views l
    JOIN pg_namespace n ON n.nspname = l.schemaname
    JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = l.viewname
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
$$;

GRANT USAGE ON SCHEMA omingest_standin TO PUBLIC;
GRANT SELECT ON ALL TABLES IN SCHEMA omingest_standin TO PUBLIC;

-- The statements above are the stand-in's own, not the warehouse's history.
DELETE FROM omingest_standin.query_log WHERE query_type <> 'SELECT';

GRANT SELECT ON pg_catalog.sys_query_history, pg_catalog.sys_query_text, pg_catalog.stl_ddltext, pg_catalog.svv_external_schemas,
    pg_catalog.svv_external_tables, pg_catalog.svv_external_columns, pg_catalog.svv_mv_info,
    pg_catalog.svv_all_columns, pg_catalog.svv_redshift_columns, pg_catalog.svv_table_info TO PUBLIC;
