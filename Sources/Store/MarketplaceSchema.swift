/// The marketplace schema: the original AgentShop's 24 tables, as versioned migrations.
///
/// Conventions: integer primary keys; money as integer cents (`*_cents`); LLM costs, which are
/// fractions of a cent per call, as integer micro-dollars (`cost_micro_usd`); timestamps as
/// ISO 8601 UTC text (`2026-11-25T15:42:00.000Z`); JSON as text checked with `json_valid`.
/// Every table with `updated_at` has a trigger that stamps it when a row changes and the
/// statement did not set it itself. No trigger counts anything: counters such as
/// `llm_usage_stats` are written by the code that knows them, once.
public enum MarketplaceSchema {
    /// One step of the schema. `version` is what `PRAGMA user_version` holds once it is applied.
    public struct Migration: Sendable {
        public let version: Int
        public let name: String
        public let sql: String
    }

    /// Every migration, in order. Append; never edit one that has shipped.
    public static let migrations: [Migration] = [
        Migration(version: 1, name: "marketplace schema, views and seed rows", sql: version1),
        Migration(version: 2, name: "products.images_json; crawler jobs and processing tasks one row per stage", sql: version2),
        Migration(version: 3, name: "the seed's notification e-mail templates", sql: version3),
        Migration(version: 4, name: "LLM usage in hour, day and month buckets; provider status from the catalogue and the calls; "
                  + "settings nothing reads dropped", sql: version4),
        Migration(version: 5, name: "the settings AgentShop reads seeded in config_settings; offline rules v2", sql: version5),
    ]

    /// The version a fully migrated store has.
    public static var latestVersion: Int { migrations.last?.version ?? 0 }

    /// The 24 tables, in creation order (parents before children).
    public static let tableNames: [String] = [
        "customers", "admin_users", "customer_sessions", "admin_sessions", "product_categories", "products",
        "product_reviews", "orders", "order_items", "llm_requests", "llm_responses", "llm_conversations",
        "llm_conversation_messages", "llm_usage_stats", "llm_provider_status", "support_requests", "support_messages",
        "product_inquiries", "webcrawler_jobs", "scraped_data", "data_processing_tasks", "config_settings",
        "email_templates", "analytics_events",
    ]

    public static let viewNames: [String] = ["product_ratings_summary", "daily_llm_usage", "crawler_job_status"]

    static let now = "(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"

    /// The `updated_at` trigger for `table`: fires only when the update did not set the column.
    static func touchTrigger(_ table: String) -> String {
        """
        CREATE TRIGGER \(table)_touch_updated_at AFTER UPDATE ON \(table) FOR EACH ROW
        WHEN NEW.updated_at IS OLD.updated_at
        BEGIN
            UPDATE \(table) SET updated_at = \(now) WHERE rowid = NEW.rowid;
        END;
        """
    }

    static let touchedTables = [
        "customers", "admin_users", "product_categories", "products", "product_reviews", "orders", "llm_requests",
        "llm_conversations", "llm_usage_stats", "llm_provider_status", "support_requests", "product_inquiries",
        "webcrawler_jobs", "scraped_data", "data_processing_tasks", "config_settings", "email_templates",
    ]

    static let version1: String = tables + "\n" + touchedTables.map(touchTrigger).joined(separator: "\n") + "\n" + views
        + "\n" + seeds

    /// A shop page shows several pictures; `image_url` keeps the main one. A crawler job and a
    /// processing task are a pipeline's stage, as in the original AgentShop (target, schedule, last
    /// run, status, items, data file), keyed `<pipeline>/<stage>` and updated by each run that runs
    /// the stage; the history of runs is in the run manifests (`agentshop runs`). Rows keyed by run
    /// collapse into their stage's newest, and scraped pages follow their job there.
    static let version2 = """
    ALTER TABLE products ADD COLUMN images_json TEXT CHECK (images_json IS NULL OR json_valid(images_json));
    ALTER TABLE webcrawler_jobs ADD COLUMN target_url TEXT;
    ALTER TABLE webcrawler_jobs ADD COLUMN schedule TEXT;
    ALTER TABLE webcrawler_jobs ADD COLUMN data_file TEXT;
    ALTER TABLE data_processing_tasks ADD COLUMN schedule TEXT;
    ALTER TABLE data_processing_tasks ADD COLUMN data_file TEXT;
    UPDATE scraped_data SET crawler_job_id = (
        SELECT max(newest.id) FROM webcrawler_jobs old
        JOIN webcrawler_jobs newest ON newest.pipeline IS old.pipeline AND newest.stage IS old.stage
        WHERE old.id = scraped_data.crawler_job_id)
    WHERE crawler_job_id IS NOT NULL;
    DELETE FROM webcrawler_jobs WHERE id NOT IN (SELECT max(id) FROM webcrawler_jobs GROUP BY pipeline, stage);
    UPDATE webcrawler_jobs SET job_key = coalesce(pipeline, '') || '/' || coalesce(stage, '');
    DELETE FROM data_processing_tasks WHERE id NOT IN (SELECT max(id) FROM data_processing_tasks GROUP BY pipeline, stage);
    UPDATE data_processing_tasks SET task_key = coalesce(pipeline, '') || '/' || coalesce(stage, '');
    """

    static let tables = """
    CREATE TABLE customers (
        id              INTEGER PRIMARY KEY,
        email           TEXT NOT NULL COLLATE NOCASE UNIQUE,
        password_hash   TEXT,
        first_name      TEXT,
        last_name       TEXT,
        phone           TEXT,
        address_json    TEXT CHECK (address_json IS NULL OR json_valid(address_json)),
        status          TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'deleted')),
        email_verified  INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1)),
        last_login_at   TEXT,
        created_at      TEXT NOT NULL DEFAULT \(now),
        updated_at      TEXT NOT NULL DEFAULT \(now)
    );

    CREATE TABLE admin_users (
        id              INTEGER PRIMARY KEY,
        username        TEXT NOT NULL COLLATE NOCASE UNIQUE,
        email           TEXT NOT NULL COLLATE NOCASE UNIQUE,
        password_hash   TEXT NOT NULL,
        role            TEXT NOT NULL DEFAULT 'admin' CHECK (role IN ('admin', 'editor', 'viewer')),
        is_active       INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
        last_login_at   TEXT,
        created_at      TEXT NOT NULL DEFAULT \(now),
        updated_at      TEXT NOT NULL DEFAULT \(now)
    );

    CREATE TABLE customer_sessions (
        id              INTEGER PRIMARY KEY,
        token_hash      TEXT NOT NULL UNIQUE,
        customer_id     INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
        ip_address      TEXT,
        user_agent      TEXT,
        created_at      TEXT NOT NULL DEFAULT \(now),
        expires_at      TEXT NOT NULL
    );
    CREATE INDEX customer_sessions_customer ON customer_sessions(customer_id);
    CREATE INDEX customer_sessions_expires ON customer_sessions(expires_at);

    CREATE TABLE admin_sessions (
        id              INTEGER PRIMARY KEY,
        token_hash      TEXT NOT NULL UNIQUE,
        admin_user_id   INTEGER NOT NULL REFERENCES admin_users(id) ON DELETE CASCADE,
        ip_address      TEXT,
        user_agent      TEXT,
        created_at      TEXT NOT NULL DEFAULT \(now),
        expires_at      TEXT NOT NULL
    );
    CREATE INDEX admin_sessions_admin ON admin_sessions(admin_user_id);
    CREATE INDEX admin_sessions_expires ON admin_sessions(expires_at);

    CREATE TABLE product_categories (
        id              INTEGER PRIMARY KEY,
        slug            TEXT NOT NULL UNIQUE,
        name            TEXT NOT NULL,
        description     TEXT,
        parent_id       INTEGER REFERENCES product_categories(id) ON DELETE SET NULL,
        sort_order      INTEGER NOT NULL DEFAULT 0,
        is_active       INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
        created_at      TEXT NOT NULL DEFAULT \(now),
        updated_at      TEXT NOT NULL DEFAULT \(now)
    );
    CREATE INDEX product_categories_parent ON product_categories(parent_id);

    CREATE TABLE products (
        id                      INTEGER PRIMARY KEY,
        slug                    TEXT NOT NULL UNIQUE,
        sku                     TEXT UNIQUE,
        name                    TEXT NOT NULL,
        description             TEXT,
        category_id             INTEGER REFERENCES product_categories(id) ON DELETE SET NULL,
        brand                   TEXT,
        price_cents             INTEGER CHECK (price_cents IS NULL OR price_cents >= 0),
        compare_at_price_cents  INTEGER CHECK (compare_at_price_cents IS NULL OR compare_at_price_cents >= 0),
        currency                TEXT NOT NULL DEFAULT 'USD' CHECK (length(currency) = 3),
        stock_quantity          INTEGER NOT NULL DEFAULT 0,
        is_active               INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
        image_url               TEXT,
        source_url              TEXT,
        attributes_json         TEXT CHECK (attributes_json IS NULL OR json_valid(attributes_json)),
        tags_json               TEXT CHECK (tags_json IS NULL OR json_valid(tags_json)),
        sentiment               TEXT,
        sentiment_score         REAL,
        summary                 TEXT,
        keywords_json           TEXT CHECK (keywords_json IS NULL OR json_valid(keywords_json)),
        scraped_at              TEXT,
        created_at              TEXT NOT NULL DEFAULT \(now),
        updated_at              TEXT NOT NULL DEFAULT \(now)
    );
    CREATE INDEX products_category ON products(category_id);
    CREATE INDEX products_active_price ON products(is_active, price_cents);
    CREATE INDEX products_source_url ON products(source_url);

    CREATE TABLE product_reviews (
        id              INTEGER PRIMARY KEY,
        product_id      INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
        customer_id     INTEGER REFERENCES customers(id) ON DELETE SET NULL,
        external_id     TEXT UNIQUE,
        author_name     TEXT,
        rating          INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
        title           TEXT,
        body            TEXT,
        sentiment       TEXT,
        sentiment_score REAL,
        is_verified     INTEGER NOT NULL DEFAULT 0 CHECK (is_verified IN (0, 1)),
        status          TEXT NOT NULL DEFAULT 'approved' CHECK (status IN ('pending', 'approved', 'rejected')),
        source_url      TEXT,
        reviewed_at     TEXT,
        created_at      TEXT NOT NULL DEFAULT \(now),
        updated_at      TEXT NOT NULL DEFAULT \(now)
    );
    CREATE INDEX product_reviews_product ON product_reviews(product_id, status);
    CREATE INDEX product_reviews_customer ON product_reviews(customer_id);

    CREATE TABLE orders (
        id                      INTEGER PRIMARY KEY,
        order_number            TEXT NOT NULL UNIQUE,
        customer_id             INTEGER REFERENCES customers(id) ON DELETE RESTRICT,
        status                  TEXT NOT NULL DEFAULT 'pending'
                                CHECK (status IN ('pending', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded')),
        subtotal_cents          INTEGER NOT NULL DEFAULT 0 CHECK (subtotal_cents >= 0),
        tax_cents               INTEGER NOT NULL DEFAULT 0 CHECK (tax_cents >= 0),
        shipping_cents          INTEGER NOT NULL DEFAULT 0 CHECK (shipping_cents >= 0),
        discount_cents          INTEGER NOT NULL DEFAULT 0 CHECK (discount_cents >= 0),
        total_cents             INTEGER NOT NULL DEFAULT 0
                                CHECK (total_cents = subtotal_cents + tax_cents + shipping_cents - discount_cents),
        currency                TEXT NOT NULL DEFAULT 'USD' CHECK (length(currency) = 3),
        shipping_address_json   TEXT CHECK (shipping_address_json IS NULL OR json_valid(shipping_address_json)),
        billing_address_json    TEXT CHECK (billing_address_json IS NULL OR json_valid(billing_address_json)),
        payment_reference       TEXT,
        placed_at               TEXT,
        created_at              TEXT NOT NULL DEFAULT \(now),
        updated_at              TEXT NOT NULL DEFAULT \(now)
    );
    CREATE INDEX orders_customer ON orders(customer_id);
    CREATE INDEX orders_status_placed ON orders(status, placed_at);

    CREATE TABLE order_items (
        id                  INTEGER PRIMARY KEY,
        order_id            INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
        product_id          INTEGER REFERENCES products(id) ON DELETE SET NULL,
        product_name        TEXT NOT NULL,
        quantity            INTEGER NOT NULL CHECK (quantity > 0),
        unit_price_cents    INTEGER NOT NULL CHECK (unit_price_cents >= 0),
        total_cents         INTEGER NOT NULL CHECK (total_cents = quantity * unit_price_cents),
        created_at          TEXT NOT NULL DEFAULT \(now)
    );
    CREATE INDEX order_items_order ON order_items(order_id);
    CREATE INDEX order_items_product ON order_items(product_id);

    CREATE TABLE llm_requests (
        id                  INTEGER PRIMARY KEY,
        request_key         TEXT NOT NULL UNIQUE,
        provider            TEXT NOT NULL,
        model               TEXT NOT NULL,
        task                TEXT,
        prompt_sha256       TEXT,
        prompt              TEXT,
        parameters_json     TEXT CHECK (parameters_json IS NULL OR json_valid(parameters_json)),
        status              TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'success', 'error', 'cached')),
        pipeline            TEXT,
        stage               TEXT,
        run_id              TEXT,
        requested_at        TEXT NOT NULL DEFAULT \(now),
        created_at          TEXT NOT NULL DEFAULT \(now),
        updated_at          TEXT NOT NULL DEFAULT \(now)
    );
    CREATE INDEX llm_requests_provider_time ON llm_requests(provider, requested_at);
    CREATE INDEX llm_requests_run ON llm_requests(run_id);

    CREATE TABLE llm_responses (
        id                  INTEGER PRIMARY KEY,
        request_id          INTEGER NOT NULL UNIQUE REFERENCES llm_requests(id) ON DELETE CASCADE,
        content             TEXT,
        finish_reason       TEXT,
        input_tokens        INTEGER NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
        output_tokens       INTEGER NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
        cost_micro_usd      INTEGER NOT NULL DEFAULT 0 CHECK (cost_micro_usd >= 0),
        latency_ms          INTEGER,
        from_cache          INTEGER NOT NULL DEFAULT 0 CHECK (from_cache IN (0, 1)),
        error               TEXT,
        created_at          TEXT NOT NULL DEFAULT \(now)
    );

    CREATE TABLE llm_conversations (
        id                  INTEGER PRIMARY KEY,
        title               TEXT,
        customer_id         INTEGER REFERENCES customers(id) ON DELETE SET NULL,
        admin_user_id       INTEGER REFERENCES admin_users(id) ON DELETE SET NULL,
        provider            TEXT NOT NULL,
        model               TEXT NOT NULL,
        created_at          TEXT NOT NULL DEFAULT \(now),
        updated_at          TEXT NOT NULL DEFAULT \(now)
    );
    CREATE INDEX llm_conversations_customer ON llm_conversations(customer_id);
    CREATE INDEX llm_conversations_admin ON llm_conversations(admin_user_id);

    CREATE TABLE llm_conversation_messages (
        id                  INTEGER PRIMARY KEY,
        conversation_id     INTEGER NOT NULL REFERENCES llm_conversations(id) ON DELETE CASCADE,
        role                TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
        content             TEXT NOT NULL,
        input_tokens        INTEGER NOT NULL DEFAULT 0,
        output_tokens       INTEGER NOT NULL DEFAULT 0,
        cost_micro_usd      INTEGER NOT NULL DEFAULT 0 CHECK (cost_micro_usd >= 0),
        created_at          TEXT NOT NULL DEFAULT \(now)
    );
    CREATE INDEX llm_conversation_messages_conversation ON llm_conversation_messages(conversation_id, id);

    CREATE TABLE llm_usage_stats (
        id                  INTEGER PRIMARY KEY,
        day                 TEXT NOT NULL CHECK (day GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
        provider            TEXT NOT NULL,
        model               TEXT NOT NULL,
        requests            INTEGER NOT NULL DEFAULT 0,
        cache_hits          INTEGER NOT NULL DEFAULT 0,
        errors              INTEGER NOT NULL DEFAULT 0,
        input_tokens        INTEGER NOT NULL DEFAULT 0,
        output_tokens       INTEGER NOT NULL DEFAULT 0,
        cost_micro_usd      INTEGER NOT NULL DEFAULT 0,
        created_at          TEXT NOT NULL DEFAULT \(now),
        updated_at          TEXT NOT NULL DEFAULT \(now),
        UNIQUE (day, provider, model)
    );

    CREATE TABLE llm_provider_status (
        id                          INTEGER PRIMARY KEY,
        provider                    TEXT NOT NULL UNIQUE,
        display_name                TEXT NOT NULL,
        is_enabled                  INTEGER NOT NULL DEFAULT 0 CHECK (is_enabled IN (0, 1)),
        base_url                    TEXT,
        default_model               TEXT,
        status                      TEXT NOT NULL DEFAULT 'unknown'
                                    CHECK (status IN ('unknown', 'healthy', 'degraded', 'down')),
        last_checked_at             TEXT,
        last_error                  TEXT,
        consecutive_failures        INTEGER NOT NULL DEFAULT 0,
        requests_per_minute         INTEGER,
        daily_cost_limit_micro_usd  INTEGER,
        created_at                  TEXT NOT NULL DEFAULT \(now),
        updated_at                  TEXT NOT NULL DEFAULT \(now)
    );

    CREATE TABLE support_requests (
        id                  INTEGER PRIMARY KEY,
        ticket_number       TEXT NOT NULL UNIQUE,
        customer_id         INTEGER REFERENCES customers(id) ON DELETE SET NULL,
        email               TEXT NOT NULL,
        subject             TEXT NOT NULL,
        category            TEXT,
        status              TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'pending', 'resolved', 'closed')),
        priority            TEXT NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
        assigned_admin_id   INTEGER REFERENCES admin_users(id) ON DELETE SET NULL,
        resolved_at         TEXT,
        created_at          TEXT NOT NULL DEFAULT \(now),
        updated_at          TEXT NOT NULL DEFAULT \(now)
    );
    CREATE INDEX support_requests_status ON support_requests(status, priority);
    CREATE INDEX support_requests_customer ON support_requests(customer_id);
    CREATE INDEX support_requests_assigned ON support_requests(assigned_admin_id);

    CREATE TABLE support_messages (
        id                  INTEGER PRIMARY KEY,
        support_request_id  INTEGER NOT NULL REFERENCES support_requests(id) ON DELETE CASCADE,
        sender_type         TEXT NOT NULL CHECK (sender_type IN ('customer', 'admin', 'system')),
        admin_user_id       INTEGER REFERENCES admin_users(id) ON DELETE SET NULL,
        body                TEXT NOT NULL,
        created_at          TEXT NOT NULL DEFAULT \(now)
    );
    CREATE INDEX support_messages_request ON support_messages(support_request_id, id);
    CREATE INDEX support_messages_admin ON support_messages(admin_user_id);

    CREATE TABLE product_inquiries (
        id                  INTEGER PRIMARY KEY,
        product_id          INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
        customer_id         INTEGER REFERENCES customers(id) ON DELETE SET NULL,
        email               TEXT,
        question            TEXT NOT NULL,
        answer              TEXT,
        status              TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'answered', 'closed')),
        answered_by         INTEGER REFERENCES admin_users(id) ON DELETE SET NULL,
        answered_at         TEXT,
        created_at          TEXT NOT NULL DEFAULT \(now),
        updated_at          TEXT NOT NULL DEFAULT \(now)
    );
    CREATE INDEX product_inquiries_product ON product_inquiries(product_id);
    CREATE INDEX product_inquiries_customer ON product_inquiries(customer_id);
    CREATE INDEX product_inquiries_answered_by ON product_inquiries(answered_by);

    CREATE TABLE webcrawler_jobs (
        id                  INTEGER PRIMARY KEY,
        job_key             TEXT NOT NULL UNIQUE,
        pipeline            TEXT,
        stage               TEXT,
        run_id              TEXT,
        seeds_json          TEXT CHECK (seeds_json IS NULL OR json_valid(seeds_json)),
        status              TEXT NOT NULL DEFAULT 'queued'
                            CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
        pages_fetched       INTEGER NOT NULL DEFAULT 0,
        pages_failed        INTEGER NOT NULL DEFAULT 0,
        bytes_fetched       INTEGER NOT NULL DEFAULT 0,
        started_at          TEXT,
        finished_at         TEXT,
        error               TEXT,
        created_at          TEXT NOT NULL DEFAULT \(now),
        updated_at          TEXT NOT NULL DEFAULT \(now)
    );
    CREATE INDEX webcrawler_jobs_status ON webcrawler_jobs(status, started_at);
    CREATE INDEX webcrawler_jobs_run ON webcrawler_jobs(run_id);

    CREATE TABLE scraped_data (
        id                  INTEGER PRIMARY KEY,
        url                 TEXT NOT NULL,
        crawler_job_id      INTEGER REFERENCES webcrawler_jobs(id) ON DELETE SET NULL,
        http_status         INTEGER,
        content_type        TEXT,
        content_sha256      TEXT NOT NULL,
        content_bytes       INTEGER,
        title               TEXT,
        warc_file           TEXT,
        warc_offset         INTEGER,
        data_json           TEXT CHECK (data_json IS NULL OR json_valid(data_json)),
        fetched_at          TEXT NOT NULL,
        created_at          TEXT NOT NULL DEFAULT \(now),
        updated_at          TEXT NOT NULL DEFAULT \(now),
        UNIQUE (url, content_sha256)
    );
    CREATE INDEX scraped_data_job ON scraped_data(crawler_job_id);
    CREATE INDEX scraped_data_fetched ON scraped_data(fetched_at);

    CREATE TABLE data_processing_tasks (
        id                  INTEGER PRIMARY KEY,
        task_key            TEXT NOT NULL UNIQUE,
        pipeline            TEXT,
        stage               TEXT,
        run_id              TEXT,
        kind                TEXT NOT NULL,
        status              TEXT NOT NULL DEFAULT 'pending'
                            CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'skipped')),
        records_in          INTEGER,
        records_out         INTEGER,
        started_at          TEXT,
        finished_at         TEXT,
        duration_ms         INTEGER,
        error               TEXT,
        details_json        TEXT CHECK (details_json IS NULL OR json_valid(details_json)),
        created_at          TEXT NOT NULL DEFAULT \(now),
        updated_at          TEXT NOT NULL DEFAULT \(now)
    );
    CREATE INDEX data_processing_tasks_run ON data_processing_tasks(run_id);
    CREATE INDEX data_processing_tasks_status ON data_processing_tasks(status, started_at);

    CREATE TABLE config_settings (
        key                 TEXT PRIMARY KEY,
        value               TEXT,
        value_type          TEXT NOT NULL DEFAULT 'string' CHECK (value_type IN ('string', 'integer', 'boolean', 'json')),
        description         TEXT,
        is_secret           INTEGER NOT NULL DEFAULT 0 CHECK (is_secret IN (0, 1)),
        created_at          TEXT NOT NULL DEFAULT \(now),
        updated_at          TEXT NOT NULL DEFAULT \(now)
    );

    CREATE TABLE email_templates (
        id                  INTEGER PRIMARY KEY,
        name                TEXT NOT NULL UNIQUE,
        subject             TEXT NOT NULL,
        body_text           TEXT NOT NULL,
        body_html           TEXT,
        variables_json      TEXT CHECK (variables_json IS NULL OR json_valid(variables_json)),
        is_active           INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
        created_at          TEXT NOT NULL DEFAULT \(now),
        updated_at          TEXT NOT NULL DEFAULT \(now)
    );

    CREATE TABLE analytics_events (
        id                  INTEGER PRIMARY KEY AUTOINCREMENT,
        event_type          TEXT NOT NULL,
        customer_id         INTEGER REFERENCES customers(id) ON DELETE SET NULL,
        session_key         TEXT,
        product_id          INTEGER REFERENCES products(id) ON DELETE SET NULL,
        properties_json     TEXT CHECK (properties_json IS NULL OR json_valid(properties_json)),
        occurred_at         TEXT NOT NULL,
        created_at          TEXT NOT NULL DEFAULT \(now)
    );
    CREATE INDEX analytics_events_type_time ON analytics_events(event_type, occurred_at);
    CREATE INDEX analytics_events_customer ON analytics_events(customer_id);
    CREATE INDEX analytics_events_product ON analytics_events(product_id);
    """

    static let views = """
    CREATE VIEW product_ratings_summary AS
    SELECT p.id AS product_id, p.slug, p.name,
           count(r.id) AS review_count,
           round(avg(r.rating), 2) AS average_rating,
           sum(r.rating = 5) AS rating_5, sum(r.rating = 4) AS rating_4, sum(r.rating = 3) AS rating_3,
           sum(r.rating = 2) AS rating_2, sum(r.rating = 1) AS rating_1
    FROM products p
    LEFT JOIN product_reviews r ON r.product_id = p.id AND r.status = 'approved'
    GROUP BY p.id;

    CREATE VIEW daily_llm_usage AS
    SELECT substr(q.requested_at, 1, 10) AS day, q.provider, q.model,
           count(*) AS requests,
           sum(coalesce(s.from_cache, 0)) AS cache_hits,
           sum(q.status = 'error') AS errors,
           sum(coalesce(s.input_tokens, 0)) AS input_tokens,
           sum(coalesce(s.output_tokens, 0)) AS output_tokens,
           sum(coalesce(s.cost_micro_usd, 0)) AS cost_micro_usd
    FROM llm_requests q
    LEFT JOIN llm_responses s ON s.request_id = q.id
    GROUP BY day, q.provider, q.model;

    CREATE VIEW crawler_job_status AS
    SELECT j.id AS job_id, j.job_key, j.pipeline, j.stage, j.run_id, j.status,
           j.pages_fetched, j.pages_failed, j.bytes_fetched,
           (SELECT count(*) FROM scraped_data d WHERE d.crawler_job_id = j.id) AS records_stored,
           j.started_at, j.finished_at,
           CAST(round((julianday(j.finished_at) - julianday(j.started_at)) * 86400) AS INTEGER) AS duration_seconds,
           j.error
    FROM webcrawler_jobs j;
    """

    /// The original AgentShop's four notification templates, which `agentshop run` (a run's outcome) and
    /// `agentshop digest` (the weekly report) send; Notify's `EmailTemplate.seeded` holds the same text as the
    /// built-in fallback (RunsTests checks that they agree). A row of that name already there is kept. The
    /// version-1 rows `pipeline_failure` and `pipeline_success` are no longer read.
    static let version3 = """
    INSERT OR IGNORE INTO email_templates (name, subject, body_text, variables_json) VALUES
        ('automation_success', '[AgentShop] {{pipeline}} succeeded',
         'Run {{run_id}} of pipeline {{pipeline}} {{status}} in {{duration}}.\n\nRecords written: {{records}}\nFailed stages: {{failures}}\nLLM cost: {{llm_cost}}\n\nStages:\n{{stages}}\n\nLog: {{log_file}}\n',
         '["pipeline","run_id","status","duration","records","failures","llm_cost","stages","log_file"]'),
        ('automation_error', '[AgentShop] {{pipeline}} failed',
         'Run {{run_id}} of pipeline {{pipeline}} failed at stage {{stage}} after {{duration}}:\n\n{{error}}\n\nFailed stages: {{failures}}\nErrors:\n{{errors}}\n\nRecords written: {{records}}\nLLM cost: {{llm_cost}}\n\nStages:\n{{stages}}\n\nLog: {{log_file}}\n',
         '["pipeline","run_id","stage","duration","error","failures","errors","records","llm_cost","stages","log_file"]'),
        ('data_analysis_complete', '[AgentShop] {{pipeline}}: analysis of {{analysed_records}} records complete',
         'Run {{run_id}} of pipeline {{pipeline}} analysed {{analysed_records}} records in {{analysis_stages}} and {{status}} in {{duration}}.\n\nRecords written: {{records}}\nLLM cost: {{llm_cost}}\n\nStages:\n{{stages}}\n\nLog: {{log_file}}\n',
         '["pipeline","run_id","status","duration","analysed_records","analysis_stages","records","llm_cost","stages","log_file"]'),
        ('weekly_report', '[AgentShop] Runs {{period_start}} to {{period_end}}: {{runs}} runs, {{failed}} failed',
         'Runs from {{period_start}} to {{period_end}}: {{runs}} ({{succeeded}} succeeded, {{failed}} failed, {{interrupted}} interrupted).\nRecords written: {{records}}\nLLM cost: {{llm_cost}}\n\nPer pipeline:\n{{pipelines}}\n\nFailures:\n{{failures}}\n',
         '["period_start","period_end","runs","succeeded","failed","interrupted","records","llm_cost","pipelines","failures"]');
    """

    /// `llm_usage_stats` gets the seed's hour, day and month buckets (`period_type`, `period_start`: the bucket's
    /// first instant; `day`: its first day), and each bucket its mean latency; the day rows there were become day
    /// buckets and the hour and month buckets are computed from the recorded calls. `llm_provider_status` gets the
    /// call figures of the day (`stats_day`): requests, errors, error rate, mean latency, cost; its rows take the
    /// LLM catalogue's names and defaults (`claude` is `anthropic`; `offline` joins; every provider is on until
    /// `llm disable` switches it off), where still as seeded.
    /// The seeded `config_settings` keys nothing read are dropped, where they still hold the seeded value (a
    /// value a user set stays, for the user's own use).
    static let version4 = """
    CREATE TABLE llm_usage_stats_v4 (
        id                  INTEGER PRIMARY KEY,
        period_type         TEXT NOT NULL DEFAULT 'day' CHECK (period_type IN ('hour', 'day', 'month')),
        period_start        TEXT NOT NULL,
        day                 TEXT NOT NULL CHECK (day GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
        provider            TEXT NOT NULL,
        model               TEXT NOT NULL,
        requests            INTEGER NOT NULL DEFAULT 0,
        cache_hits          INTEGER NOT NULL DEFAULT 0,
        errors              INTEGER NOT NULL DEFAULT 0,
        input_tokens        INTEGER NOT NULL DEFAULT 0,
        output_tokens       INTEGER NOT NULL DEFAULT 0,
        cost_micro_usd      INTEGER NOT NULL DEFAULT 0,
        avg_latency_ms      INTEGER,
        created_at          TEXT NOT NULL DEFAULT \(now),
        updated_at          TEXT NOT NULL DEFAULT \(now),
        UNIQUE (period_type, period_start, provider, model)
    );
    INSERT INTO llm_usage_stats_v4 (id, period_type, period_start, day, provider, model, requests, cache_hits, errors,
                                    input_tokens, output_tokens, cost_micro_usd, created_at, updated_at)
    SELECT id, 'day', day || 'T00:00:00.000Z', day, provider, model, requests, cache_hits, errors,
           input_tokens, output_tokens, cost_micro_usd, created_at, updated_at
    FROM llm_usage_stats;
    DROP TABLE llm_usage_stats;
    ALTER TABLE llm_usage_stats_v4 RENAME TO llm_usage_stats;
    CREATE INDEX llm_usage_stats_day ON llm_usage_stats(day, period_type);
    \(touchTrigger("llm_usage_stats"))
    CREATE INDEX llm_requests_time ON llm_requests(requested_at);
    \(["hour", "day", "month"].map { LLMCallRecords.bucketSQL($0, where: "1") }.joined(separator: ";\n"));

    ALTER TABLE llm_provider_status ADD COLUMN stats_day TEXT;
    ALTER TABLE llm_provider_status ADD COLUMN requests_today INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE llm_provider_status ADD COLUMN errors_today INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE llm_provider_status ADD COLUMN error_rate REAL;
    ALTER TABLE llm_provider_status ADD COLUMN avg_latency_ms INTEGER;
    ALTER TABLE llm_provider_status ADD COLUMN cost_today_micro_usd INTEGER NOT NULL DEFAULT 0;
    UPDATE llm_provider_status SET is_enabled = 1
        WHERE provider IN ('ollama', 'openai', 'claude', 'perplexity', 'groq') AND created_at = updated_at;
    UPDATE llm_provider_status SET provider = 'anthropic', display_name = 'Anthropic'
        WHERE provider = 'claude' AND NOT EXISTS (SELECT 1 FROM llm_provider_status WHERE provider = 'anthropic');
    UPDATE llm_provider_status SET base_url = 'https://api.anthropic.com', default_model = 'claude-haiku-4-5'
        WHERE provider = 'anthropic' AND base_url = 'https://api.anthropic.com/v1' AND default_model = 'claude-3-5-haiku-latest';
    UPDATE llm_provider_status SET default_model = 'llama3.2' WHERE provider = 'ollama' AND default_model = 'llama3.1';
    INSERT OR IGNORE INTO llm_provider_status (provider, display_name, is_enabled, base_url, default_model)
        VALUES ('offline', 'Offline rules', 1, NULL, 'rules-v1');

    DELETE FROM config_settings WHERE EXISTS (SELECT 1 FROM (VALUES
        ('site.name', 'AgentShop'), ('site.currency', 'USD'), ('site.admin_email', NULL), ('llm.default_provider', 'ollama'),
        ('llm.daily_cost_limit_micro_usd', '5000000'), ('llm.cache_enabled', 'true'),
        ('crawler.user_agent', 'AgentShop/1.0 (+https://example.invalid/bot)'), ('crawler.max_concurrency', '4'),
        ('crawler.delay_ms', '1000'), ('backup.retention_daily_days', '183'), ('backup.retention_weekly_weeks', '104'),
        ('notifications.on', '["failure"]')) seeded
        WHERE seeded.column1 = config_settings.key AND seeded.column2 IS config_settings.value);
    """

    /// `config_settings` gets the keys AgentShop reads (`StoreSettings`), without a value, so that they can be
    /// seen and set; a key already there keeps its value. The offline provider's row names the rules' version.
    static let version5 = StoreSettings.seedSQL + "\nON CONFLICT (key) DO NOTHING;\n"
        + "UPDATE llm_provider_status SET default_model = 'rules-v2' WHERE provider = 'offline' AND default_model = 'rules-v1';\n"

    /// The seeded categories; `db rebuild` puts them back when it refills `product_categories`.
    public static let categorySeeds = """
    INSERT INTO product_categories (slug, name, description, sort_order) VALUES
        ('electronics', 'Electronics', 'Phones, computers, audio and accessories', 1),
        ('clothing', 'Clothing', 'Apparel, shoes and accessories', 2),
        ('home-garden', 'Home & Garden', 'Furniture, kitchen, decor and garden', 3),
        ('books', 'Books', 'Books, e-books and audiobooks', 4),
        ('sports-outdoors', 'Sports & Outdoors', 'Fitness, camping and outdoor gear', 5);
    """

    static let seeds = categorySeeds + "\n\n" + """
    INSERT INTO config_settings (key, value, value_type, description) VALUES
        ('site.name', 'AgentShop', 'string', 'Shop name shown in e-mails and reports'),
        ('site.currency', 'USD', 'string', 'Default ISO 4217 currency for prices'),
        ('site.admin_email', NULL, 'string', 'Where failure notifications go'),
        ('llm.default_provider', 'ollama', 'string', 'Provider used when a stage names none'),
        ('llm.daily_cost_limit_micro_usd', '5000000', 'integer', 'Daily LLM spend limit, in millionths of a dollar'),
        ('llm.cache_enabled', 'true', 'boolean', 'Reuse cached responses for identical requests'),
        ('crawler.user_agent', 'AgentShop/1.0 (+https://example.invalid/bot)', 'string', 'User-Agent for fetches'),
        ('crawler.max_concurrency', '4', 'integer', 'Concurrent fetches per pipeline'),
        ('crawler.delay_ms', '1000', 'integer', 'Minimum delay between requests to one host'),
        ('backup.retention_daily_days', '183', 'integer', 'Days daily dumps are kept'),
        ('backup.retention_weekly_weeks', '104', 'integer', 'Weeks weekly dumps are kept'),
        ('notifications.on', '["failure"]', 'json', 'Run outcomes that send notifications');

    INSERT INTO email_templates (name, subject, body_text, variables_json) VALUES
        ('order_confirmation', 'Your order {{order_number}} is confirmed',
         'Hello {{customer_name}},\n\nThank you for your order {{order_number}} of {{total}}.\n', '["customer_name","order_number","total"]'),
        ('order_shipped', 'Your order {{order_number}} has shipped',
         'Hello {{customer_name}},\n\nYour order {{order_number}} is on its way. Tracking: {{tracking_url}}\n', '["customer_name","order_number","tracking_url"]'),
        ('password_reset', 'Reset your AgentShop password',
         'Hello {{customer_name}},\n\nReset your password within {{valid_hours}} hours: {{reset_url}}\n', '["customer_name","reset_url","valid_hours"]'),
        ('support_reply', 'Re: {{subject}} [{{ticket_number}}]',
         'Hello {{customer_name}},\n\n{{message}}\n\nTicket {{ticket_number}}\n', '["customer_name","subject","ticket_number","message"]'),
        ('pipeline_failure', 'Pipeline {{pipeline}} failed',
         'Run {{run_id}} of pipeline {{pipeline}} failed at stage {{stage}}:\n\n{{error}}\n\nLog: {{log_file}}\n', '["pipeline","run_id","stage","error","log_file"]'),
        ('pipeline_success', 'Pipeline {{pipeline}} succeeded',
         'Run {{run_id}} of pipeline {{pipeline}} finished in {{duration}}.\n', '["pipeline","run_id","duration"]'),
        ('backup_failure', 'Store backup failed',
         'The {{frequency}} dump of the store failed:\n\n{{error}}\n', '["frequency","error"]'),
        ('llm_cost_alert', 'LLM spend reached {{percent}}% of the daily limit',
         'Provider {{provider}} has spent {{spent}} of {{limit}} today.\n', '["provider","spent","limit","percent"]');

    INSERT INTO llm_provider_status (provider, display_name, is_enabled, base_url, default_model) VALUES
        ('ollama', 'Ollama', 0, 'http://localhost:11434', 'llama3.1'),
        ('openai', 'OpenAI', 0, 'https://api.openai.com/v1', 'gpt-4o-mini'),
        ('claude', 'Anthropic Claude', 0, 'https://api.anthropic.com/v1', 'claude-3-5-haiku-latest'),
        ('perplexity', 'Perplexity', 0, 'https://api.perplexity.ai', 'sonar'),
        ('groq', 'Groq', 0, 'https://api.groq.com/openai/v1', 'llama-3.1-8b-instant');
    """
}
