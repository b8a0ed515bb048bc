"""A small, deterministic DuckDB warehouse for demos and tests.

DuckDB keeps real schemas, comments, constraints and views in one file, so the demo needs no
server. :func:`build_demo_warehouse` creates 4 schemas and 30 tables (plus 4 views);
:func:`mutate_demo_warehouse` then applies a fixed set of changes for an incremental run to find.

DuckDB does not allow foreign keys across schemas, so cross-schema links (for example
``marketing.segment_members.customer_id`` to ``sales.customers``) are documented in column
comments only.
"""

from __future__ import annotations

import logging
from pathlib import Path

__all__ = ["DEMO_SCHEMAS", "build_demo_warehouse", "mutate_demo_warehouse"]

log = logging.getLogger(__name__)

#: Schemas of the demo warehouse, in creation order.
DEMO_SCHEMAS = ("sales", "marketing", "finance", "staging")

_SALES = [
    """create table sales.stores (
        store_id smallint primary key,
        name varchar not null,
        region varchar,
        opened_on date)""",
    """create table sales.customers (
        customer_id integer primary key,
        email varchar not null unique,
        full_name varchar not null,
        country_code varchar,
        signup_date date,
        is_active boolean default true,
        attributes map(varchar, varchar))""",
    """create table sales.addresses (
        address_id integer primary key,
        customer_id integer not null references sales.customers (customer_id),
        line1 varchar,
        city varchar,
        postal_code varchar,
        location struct(lat double, lon double))""",
    """create table sales.products (
        product_id integer primary key,
        sku varchar not null unique,
        name varchar not null,
        category varchar,
        unit_price decimal(10, 2) not null,
        tags varchar[],
        created_at timestamp)""",
    """create table sales.orders (
        order_id bigint primary key,
        customer_id integer not null references sales.customers (customer_id),
        store_id smallint references sales.stores (store_id),
        order_ts timestamp with time zone not null,
        status varchar default 'new',
        total_amount decimal(12, 2),
        currency varchar default 'EUR')""",
    """create table sales.order_items (
        order_id bigint references sales.orders (order_id),
        line_no integer,
        product_id integer not null references sales.products (product_id),
        quantity integer not null,
        unit_price decimal(10, 2) not null,
        primary key (order_id, line_no))""",
    """create table sales.payments (
        payment_id uuid primary key,
        order_id bigint not null references sales.orders (order_id),
        amount decimal(12, 2) not null,
        paid_at timestamp with time zone,
        method varchar)""",
    """create table sales.shipments (
        shipment_id integer primary key,
        order_id bigint not null references sales.orders (order_id),
        carrier varchar,
        shipped_at timestamp,
        delivered_at timestamp,
        tracking json)""",
    """create table sales.returns (
        return_id integer primary key,
        order_id bigint not null references sales.orders (order_id),
        reason varchar,
        refunded decimal(12, 2))""",
    """create view sales.v_customer_orders as
        select c.customer_id, c.email, count(o.order_id) as orders, sum(o.total_amount) as revenue
        from sales.customers c left join sales.orders o using (customer_id)
        group by c.customer_id, c.email""",
    """create view sales.v_daily_revenue as
        select cast(order_ts as date) as day, sum(total_amount) as revenue
        from sales.orders group by 1""",
]

_MARKETING = [
    """create table marketing.campaigns (
        campaign_id integer primary key,
        name varchar not null unique,
        channel varchar,
        budget decimal(12, 2),
        starts_on date,
        ends_on date)""",
    """create table marketing.ad_groups (
        ad_group_id integer primary key,
        campaign_id integer not null references marketing.campaigns (campaign_id),
        name varchar,
        bid double)""",
    """create table marketing.ads (
        ad_id integer primary key,
        ad_group_id integer not null references marketing.ad_groups (ad_group_id),
        headline varchar,
        landing_url varchar,
        creative blob)""",
    """create table marketing.impressions (
        impression_id bigint primary key,
        ad_id integer not null references marketing.ads (ad_id),
        seen_at timestamp,
        device varchar,
        cost_micros bigint)""",
    """create table marketing.clicks (
        click_id bigint primary key,
        impression_id bigint not null references marketing.impressions (impression_id),
        clicked_at timestamp)""",
    """create table marketing.segments (
        segment_id integer primary key,
        name varchar not null unique,
        rule json)""",
    """create table marketing.segment_members (
        segment_id integer references marketing.segments (segment_id),
        customer_id integer,
        added_at timestamp,
        primary key (segment_id, customer_id))""",
    """create view marketing.v_campaign_performance as
        select c.campaign_id, c.name, count(i.impression_id) as impressions
        from marketing.campaigns c
        join marketing.ad_groups g using (campaign_id)
        join marketing.ads a using (ad_group_id)
        left join marketing.impressions i using (ad_id)
        group by c.campaign_id, c.name""",
]

_FINANCE = [
    """create table finance.accounts (
        account_id integer primary key,
        code varchar not null unique,
        name varchar not null,
        account_type varchar)""",
    """create table finance.fiscal_periods (
        period_id integer primary key,
        year smallint not null,
        month tinyint not null,
        closed boolean default false,
        unique (year, month))""",
    """create table finance.journal_entries (
        entry_id bigint primary key,
        period_id integer not null references finance.fiscal_periods (period_id),
        posted_at timestamp with time zone,
        description varchar)""",
    """create table finance.journal_lines (
        entry_id bigint references finance.journal_entries (entry_id),
        line_no integer,
        account_id integer not null references finance.accounts (account_id),
        debit decimal(14, 2) default 0,
        credit decimal(14, 2) default 0,
        primary key (entry_id, line_no))""",
    """create table finance.invoices (
        invoice_id integer primary key,
        order_id bigint,
        customer_id integer,
        issued_on date,
        due_on date,
        amount decimal(12, 2),
        status varchar)""",
    """create table finance.exchange_rates (
        currency varchar,
        rate_date date,
        rate double not null,
        primary key (currency, rate_date))""",
    """create table finance.budgets (
        budget_id integer primary key,
        account_id integer not null references finance.accounts (account_id),
        period_id integer not null references finance.fiscal_periods (period_id),
        amount decimal(14, 2))""",
    """create view finance.v_trial_balance as
        select a.code, sum(l.debit) as debit, sum(l.credit) as credit
        from finance.journal_lines l join finance.accounts a using (account_id)
        group by a.code""",
]

_STAGING = [
    "create table staging.raw_orders (payload json, loaded_at timestamp, source_file varchar)",
    "create table staging.raw_customers (payload json, loaded_at timestamp, source_file varchar)",
    "create table staging.raw_clicks (payload json, loaded_at timestamp, source_file varchar)",
    "create table staging.raw_payments (payload json, loaded_at timestamp, source_file varchar)",
    """create table staging.load_log (
        load_id integer primary key,
        started_at timestamp,
        finished_at timestamp,
        rows_loaded bigint,
        status varchar)""",
    "create table staging.erp_accounts_dump (line_no integer, line varchar)",
    "create table staging.tmp_currency_rates (currency varchar, rate double, as_of date)",
]

_TABLE_COMMENTS = {
    "sales.stores": "Physical and online stores",
    "sales.customers": "One row per customer account",
    "sales.addresses": "Postal addresses of customers",
    "sales.products": "Product catalogue",
    "sales.orders": "Orders placed by customers",
    "sales.order_items": "Lines of an order",
    "sales.payments": "Payments received for orders",
    "sales.shipments": "Parcels sent for orders",
    "sales.returns": "Returned orders and refunds",
    "sales.v_customer_orders": "Orders and revenue per customer",
    "sales.v_daily_revenue": "Revenue per day",
    "marketing.campaigns": "Marketing campaigns",
    "marketing.ad_groups": "Ad groups of a campaign",
    "marketing.ads": "Ads of an ad group",
    "marketing.impressions": "Ad impressions",
    "marketing.clicks": "Clicks on impressions",
    "marketing.segments": "Customer segments",
    "marketing.segment_members": "Customers in a segment",
    "marketing.v_campaign_performance": "Impressions per campaign",
    "finance.accounts": "Chart of accounts",
    "finance.fiscal_periods": "Accounting periods",
    "finance.journal_entries": "General ledger entries",
    "finance.journal_lines": "Debit and credit lines of an entry",
    "finance.invoices": "Invoices sent to customers",
    "finance.exchange_rates": "Daily currency rates",
    "finance.budgets": "Budget per account and period",
    "finance.v_trial_balance": "Debit and credit per account",
    "staging.raw_orders": "Raw order files as loaded",
    "staging.load_log": "One row per load job",
}

_COLUMN_COMMENTS = {
    "sales.customers.email": "Login e-mail, unique",
    "sales.orders.total_amount": "Order total in the order currency",
    "marketing.segment_members.customer_id": "References sales.customers.customer_id",
    "finance.invoices.order_id": "References sales.orders.order_id",
    "finance.invoices.customer_id": "References sales.customers.customer_id",
}


def build_demo_warehouse(path: str | Path) -> Path:
    """Create the demo warehouse at ``path``, replacing any file there.

    :param path: where to write the DuckDB file.
    :return: the path of the file.
    """
    import duckdb

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in (target, target.with_name(target.name + ".wal")):
        stale.unlink(missing_ok=True)
    with duckdb.connect(str(target)) as conn:
        for schema in DEMO_SCHEMAS:
            conn.execute(f"create schema {schema}")
        for statement in (*_SALES, *_MARKETING, *_FINANCE, *_STAGING):
            conn.execute(statement)
        for table, comment in _TABLE_COMMENTS.items():
            kind = "view" if table.split(".")[1].startswith("v_") else "table"
            conn.execute(f"comment on {kind} {table} is '{comment}'")
        for column, comment in _COLUMN_COMMENTS.items():
            conn.execute(f"comment on column {column} is '{comment}'")
        conn.execute("checkpoint")
    log.info("Built the demo warehouse at %s.", target)
    return target


#: The changes :func:`mutate_demo_warehouse` applies: (statement, description).
_MUTATIONS = (
    (
        "alter table finance.invoices alter column amount type decimal(14, 2)",
        "Changed the type of finance.invoices.amount from DECIMAL(12,2) to DECIMAL(14,2)",
    ),
    (
        """create table marketing.email_sends (
            send_id bigint primary key,
            campaign_id integer not null references marketing.campaigns (campaign_id),
            customer_id integer,
            sent_at timestamp,
            opened boolean default false)""",
        "Added the table marketing.email_sends",
    ),
    (
        "comment on table marketing.email_sends is 'E-mails sent by campaigns'",
        None,
    ),
    (
        "drop table staging.tmp_currency_rates",
        "Dropped the table staging.tmp_currency_rates",
    ),
    (
        "comment on table sales.customers is 'Customer accounts, one row per person'",
        "Changed the comment of sales.customers to 'Customer accounts, one row per person'",
    ),
)


def mutate_demo_warehouse(path: str | Path) -> list[str]:
    """Apply the fixed demo changes to a warehouse built by :func:`build_demo_warehouse`.

    :param path: the DuckDB file.
    :return: one human-readable line per change.
    :raises FileNotFoundError: if there is no warehouse at ``path``.
    :raises ValueError: if the changes were already applied.
    """
    import duckdb

    target = Path(path)
    if not target.exists():
        raise FileNotFoundError(f"No demo warehouse at {target}; build it with build_demo_warehouse().")
    with duckdb.connect(str(target)) as conn:
        already = conn.execute(
            "select count(*) from duckdb_tables() "
            "where schema_name = 'marketing' and table_name = 'email_sends'"
        ).fetchone()
        if already and already[0]:
            raise ValueError(f"The demo warehouse at {target} was already mutated; rebuild it first.")
        conn.execute("begin")
        for statement, _ in _MUTATIONS:
            conn.execute(statement)
        conn.execute("commit")
        conn.execute("checkpoint")
    changes = [description for _, description in _MUTATIONS if description]
    for line in changes:
        log.info("%s", line)
    return changes
