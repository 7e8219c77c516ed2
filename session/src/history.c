/* The session history in SQLite: schema, migrations, the 7-day rule. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "knotmap/history.h"
#include "km_internal.h"

#define MOD "history"

struct km_history {
	struct km_history_config cfg;
	char *path;
	sqlite3 *db;
	int version;
};

/* Migrations: entry i brings the schema from version i to i + 1. Append only:
 * a released migration is never edited (older files depend on it). */
static const char *const migrations[] = {
    /* 0 -> 1: the first schema */
    "CREATE TABLE sessions(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  uuid TEXT UNIQUE,\n"
    "  start_us INTEGER NOT NULL,\n"
    "  end_us INTEGER NOT NULL DEFAULT 0,\n"
    "  device TEXT NOT NULL DEFAULT '',\n"
    "  recording TEXT NOT NULL DEFAULT '');\n"
    "CREATE TABLE knots(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  x_mm REAL NOT NULL,\n"
    "  y_mm REAL NOT NULL,\n"
    "  first_seen_us INTEGER NOT NULL,\n"
    "  last_seen_us INTEGER NOT NULL);\n"
    "CREATE TABLE observations(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  knot_id INTEGER NOT NULL REFERENCES knots(id) ON DELETE CASCADE,\n"
    "  session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,\n"
    "  time_us INTEGER NOT NULL,\n"
    "  x_mm REAL NOT NULL,\n"
    "  y_mm REAL NOT NULL,\n"
    "  stiffness REAL NOT NULL DEFAULT 0);\n"
    "CREATE TABLE holds(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,\n"
    "  knot_id INTEGER REFERENCES knots(id) ON DELETE SET NULL,\n"
    "  start_us INTEGER NOT NULL,\n"
    "  duration_s REAL NOT NULL,\n"
    "  load_kpa REAL NOT NULL,\n"
    "  dose_kpa_s REAL NOT NULL,\n"
    "  outcome TEXT NOT NULL CHECK(outcome IN ('stopped','released','stiffened')));\n",
    /* 1 -> 2: body-relative positions, peak load, stiffness change, red flags */
    "ALTER TABLE knots ADD COLUMN body_relative INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE observations ADD COLUMN peak_kpa REAL NOT NULL DEFAULT 0;\n"
    "ALTER TABLE holds ADD COLUMN stiffness_pct REAL NOT NULL DEFAULT 0;\n"
    "CREATE TABLE red_flags(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  session_id INTEGER REFERENCES sessions(id) ON DELETE SET NULL,\n"
    "  time_us INTEGER NOT NULL,\n"
    "  kind TEXT NOT NULL\n"
    "    CHECK(kind IN ('other','numbness','tingling','radiating_pain')),\n"
    "  text TEXT NOT NULL);\n"
    "CREATE INDEX observations_knot ON observations(knot_id);\n"
    "CREATE INDEX observations_session ON observations(session_id);\n"
    "CREATE INDEX holds_session ON holds(session_id);\n",
    /* 2 -> 3: body coordinates per knot and per sighting (region '' =
     * unknown), and the session's mat-time length (-1 = unknown) so that
     * listing the history never has to open the recordings */
    "ALTER TABLE knots ADD COLUMN region TEXT NOT NULL DEFAULT '';\n"
    "ALTER TABLE knots ADD COLUMN side INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE knots ADD COLUMN lateral_mm REAL NOT NULL DEFAULT 0;\n"
    "ALTER TABLE knots ADD COLUMN along_pct REAL NOT NULL DEFAULT 0;\n"
    "ALTER TABLE observations ADD COLUMN region TEXT NOT NULL DEFAULT '';\n"
    "ALTER TABLE observations ADD COLUMN side INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE observations ADD COLUMN lateral_mm REAL NOT NULL DEFAULT 0;\n"
    "ALTER TABLE observations ADD COLUMN along_pct REAL NOT NULL DEFAULT 0;\n"
    "ALTER TABLE sessions ADD COLUMN mat_s REAL NOT NULL DEFAULT -1;\n",
};

_Static_assert(sizeof migrations / sizeof migrations[0] == KM_HISTORY_SCHEMA_VERSION,
               "one migration per schema version");

static int db_error(km_history *h, int src, const char *what)
{
	km__log(&h->cfg.log, KM_LOG_ERROR, MOD, "%s: %s: %s", h->path, what,
	        h->db ? sqlite3_errmsg(h->db) : sqlite3_errstr(src));
	switch (src & 0xFF) {
	case SQLITE_NOMEM:
		return KM_ERR_NO_MEMORY;
	case SQLITE_FULL:
		return KM_ERR_NO_SPACE;
	case SQLITE_PERM:
	case SQLITE_READONLY:
	case SQLITE_AUTH:
		return KM_ERR_PERMISSION;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return KM_ERR_BUSY;
	case SQLITE_CONSTRAINT:
		return KM_ERR_EXISTS;
	case SQLITE_CANTOPEN:
		return KM_ERR_NOT_FOUND;
	default:
		return KM_ERR_DATABASE;
	}
}

static int exec(km_history *h, const char *sql)
{
	char *err = NULL;
	int rc = sqlite3_exec(h->db, sql, NULL, NULL, &err);
	if (rc != SQLITE_OK) {
		km__log(&h->cfg.log, KM_LOG_ERROR, MOD, "%s: %s", h->path, err ? err : "error");
		sqlite3_free(err);
		return db_error(h, rc, "statement failed");
	}
	return KM_OK;
}

static int prepare(km_history *h, const char *sql, sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v2(h->db, sql, -1, st, NULL);
	if (rc != SQLITE_OK)
		return db_error(h, rc, "prepare");
	return KM_OK;
}

static int user_version(km_history *h, int *v)
{
	sqlite3_stmt *st;
	int rc = prepare(h, "PRAGMA user_version", &st);
	if (rc != KM_OK)
		return rc;
	int s = sqlite3_step(st);
	if (s == SQLITE_ROW)
		*v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return s == SQLITE_ROW ? KM_OK : db_error(h, s, "read user_version");
}

static int migrate(km_history *h)
{
	int rc = exec(h, "BEGIN IMMEDIATE");
	if (rc != KM_OK)
		return rc;
	int v = 0;
	rc = user_version(h, &v);
	if (rc == KM_OK && v > KM_HISTORY_SCHEMA_VERSION) {
		km__log(&h->cfg.log, KM_LOG_ERROR, MOD,
		        "%s has schema %d; this knotmap knows up to %d: upgrade knotmap", h->path,
		        v, KM_HISTORY_SCHEMA_VERSION);
		rc = KM_ERR_BAD_VERSION;
	}
	for (int i = v; rc == KM_OK && i < KM_HISTORY_SCHEMA_VERSION; i++) {
		km__log(&h->cfg.log, KM_LOG_INFO, MOD, "%s: migrating schema %d -> %d", h->path, i,
		        i + 1);
		rc = exec(h, migrations[i]);
	}
	if (rc == KM_OK && v < KM_HISTORY_SCHEMA_VERSION) {
		char sql[64];
		snprintf(sql, sizeof sql, "PRAGMA user_version = %d", KM_HISTORY_SCHEMA_VERSION);
		rc = exec(h, sql);
	}
	if (rc == KM_OK)
		rc = exec(h, "COMMIT");
	else
		(void)sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
	if (rc == KM_OK)
		h->version = KM_HISTORY_SCHEMA_VERSION;
	return rc;
}

struct km_history_config km_history_config_default(void)
{
	struct km_history_config c;
	memset(&c, 0, sizeof c);
	c.match_mm = KM_HISTORY_MATCH_MM;
	c.persist_days = KM_HISTORY_PERSIST_DAYS;
	return c;
}

int km_history_data_path(const char *sub, char *buf, size_t cap)
{
	if (!sub || !buf || cap == 0)
		return KM_ERR_INVALID_ARG;
	const char *xdg = getenv("XDG_DATA_HOME");
	const char *home = getenv("HOME");
	int n;
	/* XDG base directory spec: relative values are invalid and ignored. */
	if (xdg && xdg[0] == '/')
		n = snprintf(buf, cap, "%s/knotmap/%s", xdg, sub);
	else if (home && home[0])
		n = snprintf(buf, cap, "%s/.local/share/knotmap/%s", home, sub);
	else
		return KM_ERR_NOT_FOUND;
	if (n < 0 || (size_t)n >= cap)
		return KM_ERR_OVERFLOW;
	return KM_OK;
}

/* The history is health data: owner only. A database found wider (made by an
 * older version, copied in, restored from a backup) is narrowed and the user
 * told, with its SQLite side files. */
static void repair_mode(const struct km_history_config *cfg, int fd, const char *path)
{
	struct stat st;
	if (fstat(fd, &st) != 0 || (st.st_mode & 077) == 0)
		return;
	if (fchmod(fd, 0600) != 0) {
		km__log(&cfg->log, KM_LOG_WARN, MOD,
		        "%s is readable by others (mode %04o) and cannot be changed: %s", path,
		        (unsigned)(st.st_mode & 07777), strerror(errno));
		return;
	}
	km__log(&cfg->log, KM_LOG_WARN, MOD,
	        "%s was readable by others (mode %04o); set to 0600 (owner only)", path,
	        (unsigned)(st.st_mode & 07777));
	static const char *const sides[] = {"-wal", "-shm", "-journal"};
	size_t n = strlen(path);
	char side[4096 + 16];
	for (size_t i = 0; i < KM_ARRAY_SIZE(sides) && n < 4096; i++) {
		snprintf(side, sizeof side, "%s%s", path, sides[i]);
		struct stat ss;
		if (lstat(side, &ss) == 0 && S_ISREG(ss.st_mode) && (ss.st_mode & 077))
			chmod(side, 0600);
	}
}

int km_history_default_path(char *buf, size_t cap)
{
	return km_history_data_path("history.db", buf, cap);
}

int km_history_create(const struct km_history_config *cfg, km_history **out)
{
	if (out)
		*out = NULL;
	if (!cfg || !out)
		return KM_ERR_INVALID_ARG;
	if (!(cfg->match_mm > 0.0f && cfg->match_mm <= 500.0f) ||
	    !(cfg->persist_days > 0.0f && cfg->persist_days <= 3650.0f))
		return KM_ERR_INVALID_ARG;
	char def[4096];
	const char *path = cfg->path;
	if (!path) {
		int rc = km_history_default_path(def, sizeof def);
		if (rc != KM_OK)
			return rc;
		path = def;
	}
	if (!path[0])
		return KM_ERR_INVALID_ARG;
	km_history *h = km__calloc(1, sizeof *h);
	if (!h)
		return KM_ERR_NO_MEMORY;
	h->cfg = *cfg;
	size_t len = strlen(path);
	h->path = km__malloc(len + 1);
	if (!h->path) {
		km__free(h);
		return KM_ERR_NO_MEMORY;
	}
	memcpy(h->path, path, len + 1);
	h->cfg.path = h->path;

	int rc = KM_OK;
	if (!cfg->read_only) {
		rc = km__make_parent_dirs(h->path);
		/* Create the file ourselves so it is 0600 from the first byte;
		 * SQLite gives its -wal/-shm files the same mode. */
		if (rc == KM_OK) {
			int fd = open(h->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
			if (fd < 0)
				rc = km__error_from_errno(errno);
			else {
				repair_mode(cfg, fd, h->path);
				close(fd);
			}
		}
		if (rc != KM_OK)
			km__log(&cfg->log, KM_LOG_ERROR, MOD, "cannot create %s: %s", h->path,
			        km_strerror(rc));
	} else if (access(h->path, R_OK) != 0) {
		rc = km__error_from_errno(errno);
	}
	if (rc == KM_OK) {
		int flags = cfg->read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
		int s = sqlite3_open_v2(h->path, &h->db, flags, NULL);
		if (s != SQLITE_OK)
			rc = db_error(h, s, "open");
	}
	if (rc == KM_OK) {
		sqlite3_busy_timeout(h->db, 2000);
		rc = exec(h, "PRAGMA foreign_keys = ON");
	}
	if (rc == KM_OK && !cfg->read_only) {
		/* WAL: readers (the viewer) never block the recorder. */
		rc = exec(h, "PRAGMA journal_mode = WAL");
		if (rc == KM_OK)
			rc = exec(h, "PRAGMA synchronous = NORMAL");
		if (rc == KM_OK)
			rc = migrate(h);
	} else if (rc == KM_OK) {
		rc = user_version(h, &h->version);
		if (rc == KM_OK && h->version > KM_HISTORY_SCHEMA_VERSION)
			rc = KM_ERR_BAD_VERSION;
		/* A reader must not migrate the file; a schema 2 file is read
		 * through TEMP views (they shadow the tables, nothing is written)
		 * that give the schema 3 columns their defaults. */
		if (rc == KM_OK && h->version == 2)
			rc = exec(h, "CREATE TEMP VIEW knots AS SELECT *, '' AS region, 0 AS side,"
			             " 0.0 AS lateral_mm, 0.0 AS along_pct FROM main.knots;"
			             "CREATE TEMP VIEW observations AS SELECT *, '' AS region,"
			             " 0 AS side, 0.0 AS lateral_mm, 0.0 AS along_pct"
			             " FROM main.observations;"
			             "CREATE TEMP VIEW sessions AS SELECT *, -1.0 AS mat_s"
			             " FROM main.sessions;");
	}
	if (rc != KM_OK) {
		km_history_destroy(h);
		return rc;
	}
	*out = h;
	return KM_OK;
}

void km_history_destroy(km_history *h)
{
	if (!h)
		return;
	if (h->db)
		sqlite3_close(h->db);
	km__free(h->path);
	km__free(h);
}

int km_history_schema_version(const km_history *h)
{
	return h ? h->version : 0;
}

static int writable(km_history *h)
{
	if (!h)
		return KM_ERR_INVALID_ARG;
	if (h->cfg.read_only)
		return KM_ERR_STATE;
	return KM_OK;
}

int km_history_reset(km_history *h)
{
	int rc = writable(h);
	if (rc != KM_OK)
		return rc;
	return exec(h, "BEGIN; DELETE FROM red_flags; DELETE FROM holds; DELETE FROM observations;"
	               " DELETE FROM knots; DELETE FROM sessions; COMMIT;");
}

/* Runs a prepared statement that returns no rows, then finalizes it. */
static int step_done(km_history *h, sqlite3_stmt *st, const char *what)
{
	int s = sqlite3_step(st);
	sqlite3_finalize(st);
	return s == SQLITE_DONE ? KM_OK : db_error(h, s, what);
}

/* ---- sessions ---------------------------------------------------------- */

int km_history_add_session(km_history *h, const struct km_history_session *s, int64_t *id)
{
	int rc = writable(h);
	if (rc != KM_OK)
		return rc;
	if (!s)
		return KM_ERR_INVALID_ARG;
	if (strnlen(s->recording, sizeof s->recording) == sizeof s->recording ||
	    strnlen(s->uuid, sizeof s->uuid) == sizeof s->uuid ||
	    strnlen(s->device, sizeof s->device) == sizeof s->device) {
		km__log(&h->cfg.log, KM_LOG_ERROR, MOD, "session text field not terminated");
		return KM_ERR_NAME_TOO_LONG;
	}
	sqlite3_stmt *st;
	rc = prepare(h,
	             "INSERT INTO sessions(uuid, start_us, end_us, device, recording)"
	             " VALUES(NULLIF(?1, ''), ?2, ?3, ?4, ?5)",
	             &st);
	if (rc != KM_OK)
		return rc;
	sqlite3_bind_text(st, 1, s->uuid, (int)strnlen(s->uuid, sizeof s->uuid), SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, s->start_unix_us);
	sqlite3_bind_int64(st, 3, s->end_unix_us);
	sqlite3_bind_text(st, 4, s->device, (int)strnlen(s->device, sizeof s->device),
	                  SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 5, s->recording, (int)strnlen(s->recording, sizeof s->recording),
	                  SQLITE_TRANSIENT);
	rc = step_done(h, st, "add session");
	if (rc == KM_OK && id)
		*id = sqlite3_last_insert_rowid(h->db);
	return rc;
}

int km_history_end_session(km_history *h, int64_t id, int64_t end_unix_us)
{
	int rc = writable(h);
	if (rc != KM_OK)
		return rc;
	sqlite3_stmt *st;
	rc = prepare(h, "UPDATE sessions SET end_us = ?2 WHERE id = ?1", &st);
	if (rc != KM_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, end_unix_us);
	rc = step_done(h, st, "end session");
	if (rc == KM_OK && sqlite3_changes(h->db) == 0)
		return KM_ERR_NOT_FOUND;
	return rc;
}

int km_history_set_mat_seconds(km_history *h, int64_t id, double seconds)
{
	int rc = writable(h);
	if (rc != KM_OK)
		return rc;
	if (!isfinite(seconds) || seconds < 0)
		return KM_ERR_INVALID_ARG;
	sqlite3_stmt *st;
	rc = prepare(h, "UPDATE sessions SET mat_s = ?2 WHERE id = ?1", &st);
	if (rc != KM_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_double(st, 2, seconds);
	rc = step_done(h, st, "set session length");
	if (rc == KM_OK && sqlite3_changes(h->db) == 0)
		return KM_ERR_NOT_FOUND;
	return rc;
}

static void copy_text(char *dst, size_t cap, const unsigned char *src)
{
	if (!src)
		src = (const unsigned char *)"";
	size_t n = strnlen((const char *)src, cap - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

#define SESSION_COLUMNS                                                                            \
	"SELECT s.id, COALESCE(s.uuid, ''), s.start_us, s.end_us, s.device, s.recording,"          \
	" (SELECT COUNT(DISTINCT knot_id) FROM observations o WHERE o.session_id = s.id),"         \
	" (SELECT COUNT(*) FROM holds d WHERE d.session_id = s.id), s.mat_s FROM sessions s "

static void read_session(sqlite3_stmt *st, struct km_history_session *s)
{
	memset(s, 0, sizeof *s);
	s->id = sqlite3_column_int64(st, 0);
	copy_text(s->uuid, sizeof s->uuid, sqlite3_column_text(st, 1));
	s->start_unix_us = sqlite3_column_int64(st, 2);
	s->end_unix_us = sqlite3_column_int64(st, 3);
	copy_text(s->device, sizeof s->device, sqlite3_column_text(st, 4));
	copy_text(s->recording, sizeof s->recording, sqlite3_column_text(st, 5));
	s->knots = (uint32_t)sqlite3_column_int64(st, 6);
	s->holds = (uint32_t)sqlite3_column_int64(st, 7);
	s->mat_seconds = sqlite3_column_double(st, 8);
}

int km_history_get_session(km_history *h, int64_t id, struct km_history_session *out)
{
	if (!h || !out)
		return KM_ERR_INVALID_ARG;
	sqlite3_stmt *st;
	int rc = prepare(h, SESSION_COLUMNS "WHERE s.id = ?1", &st);
	if (rc != KM_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	int s = sqlite3_step(st);
	if (s == SQLITE_ROW)
		read_session(st, out);
	sqlite3_finalize(st);
	if (s == SQLITE_ROW)
		return KM_OK;
	return s == SQLITE_DONE ? KM_ERR_NOT_FOUND : db_error(h, s, "get session");
}

int km_history_find_session(km_history *h, const char *uuid, int64_t *id)
{
	if (!h || !uuid || !id)
		return KM_ERR_INVALID_ARG;
	sqlite3_stmt *st;
	int rc = prepare(h, "SELECT id FROM sessions WHERE uuid = ?1", &st);
	if (rc != KM_OK)
		return rc;
	sqlite3_bind_text(st, 1, uuid, -1, SQLITE_TRANSIENT);
	int s = sqlite3_step(st);
	if (s == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (s == SQLITE_ROW)
		return KM_OK;
	return s == SQLITE_DONE ? KM_ERR_NOT_FOUND : db_error(h, s, "find session");
}

int km_history_list_sessions(km_history *h, km_history_session_fn fn, void *user)
{
	if (!h || !fn)
		return KM_ERR_INVALID_ARG;
	sqlite3_stmt *st;
	int rc = prepare(h, SESSION_COLUMNS "ORDER BY s.start_us DESC, s.id DESC", &st);
	if (rc != KM_OK)
		return rc;
	int s;
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		struct km_history_session ses;
		read_session(st, &ses);
		rc = fn(user, &ses);
		if (rc != 0)
			break;
	}
	sqlite3_finalize(st);
	if (rc != 0)
		return rc;
	return s == SQLITE_DONE ? KM_OK : db_error(h, s, "list sessions");
}

/* ---- knots ------------------------------------------------------------- */

static bool session_exists(km_history *h, int64_t id)
{
	struct km_history_session s;
	return km_history_get_session(h, id, &s) == KM_OK;
}

int km_history_add_observation(km_history *h, const struct km_history_observation *o,
                               int64_t *knot_id, bool *persistent)
{
	int rc = writable(h);
	if (rc != KM_OK)
		return rc;
	if (!o || !isfinite(o->x_mm) || !isfinite(o->y_mm) || !isfinite(o->stiffness) ||
	    !isfinite(o->peak_kpa) || o->stiffness < 0.0f || o->peak_kpa < 0.0f)
		return KM_ERR_INVALID_ARG;
	const struct km_history_body *b = &o->body;
	bool on_body = b->region[0] != '\0';
	if (strnlen(b->region, sizeof b->region) == sizeof b->region ||
	    (on_body && (!isfinite(b->lateral_mm) || !isfinite(b->along_pct) ||
	                 b->lateral_mm < 0.0f || b->side < -1 || b->side > 1)))
		return KM_ERR_INVALID_ARG;
	if (!session_exists(h, o->session_id))
		return KM_ERR_NOT_FOUND;
	rc = exec(h, "BEGIN IMMEDIATE");
	if (rc != KM_OK)
		return rc;
	/* With body coordinates: the nearest knot on the same side of the same
	 * region within the body tolerances (normalised distance <= 1); else the
	 * nearest knot without body coordinates in the same reference frame,
	 * within match_mm. A body sighting never matches a mat-only knot. */
	sqlite3_stmt *st = NULL;
	int64_t best = 0;
	double best_d2 = on_body ? 1.0 : (double)h->cfg.match_mm * h->cfg.match_mm;
	rc = prepare(h,
	             on_body ? "SELECT id, lateral_mm, along_pct FROM knots"
	                       " WHERE region = ?1 AND side = ?2"
	                     : "SELECT id, x_mm, y_mm FROM knots"
	                       " WHERE region = '' AND body_relative = ?2",
	             &st);
	if (rc == KM_OK) {
		if (on_body) {
			sqlite3_bind_text(st, 1, b->region, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int(st, 2, b->side);
		} else {
			sqlite3_bind_int(st, 2, o->body_relative ? 1 : 0);
		}
		int s;
		while ((s = sqlite3_step(st)) == SQLITE_ROW) {
			double d2;
			if (on_body) {
				double dl = (sqlite3_column_double(st, 1) - b->lateral_mm) /
				            KM_HISTORY_MATCH_LATERAL_MM;
				double da = (sqlite3_column_double(st, 2) - b->along_pct) /
				            KM_HISTORY_MATCH_ALONG_PCT;
				d2 = dl * dl + da * da;
			} else {
				double dx = sqlite3_column_double(st, 1) - o->x_mm;
				double dy = sqlite3_column_double(st, 2) - o->y_mm;
				d2 = dx * dx + dy * dy;
			}
			if (d2 <= best_d2) {
				best_d2 = d2;
				best = sqlite3_column_int64(st, 0);
			}
		}
		sqlite3_finalize(st);
		if (s != SQLITE_DONE)
			rc = db_error(h, s, "match knot");
	}
	if (rc == KM_OK && best == 0) {
		rc = prepare(h,
		             "INSERT INTO knots(x_mm, y_mm, first_seen_us, last_seen_us,"
		             " body_relative, region, side, lateral_mm, along_pct)"
		             " VALUES(?1, ?2, ?3, ?3, ?4, ?5, ?6, ?7, ?8)",
		             &st);
		if (rc == KM_OK) {
			sqlite3_bind_double(st, 1, o->x_mm);
			sqlite3_bind_double(st, 2, o->y_mm);
			sqlite3_bind_int64(st, 3, o->time_unix_us);
			sqlite3_bind_int(st, 4, o->body_relative || on_body ? 1 : 0);
			sqlite3_bind_text(st, 5, b->region, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int(st, 6, on_body ? b->side : 0);
			sqlite3_bind_double(st, 7, on_body ? b->lateral_mm : 0.0);
			sqlite3_bind_double(st, 8, on_body ? b->along_pct : 0.0);
			rc = step_done(h, st, "add knot");
			best = sqlite3_last_insert_rowid(h->db);
		}
	} else if (rc == KM_OK) {
		/* Position: running mean over the sightings. */
		rc = prepare(h,
		             "UPDATE knots SET"
		             " x_mm = (x_mm * n + ?2) / (n + 1), y_mm = (y_mm * n + ?3) / (n + 1),"
		             " lateral_mm = (lateral_mm * n + ?5) / (n + 1),"
		             " along_pct = (along_pct * n + ?6) / (n + 1),"
		             " first_seen_us = MIN(first_seen_us, ?4),"
		             " last_seen_us = MAX(last_seen_us, ?4)"
		             " FROM (SELECT COUNT(*) AS n FROM observations WHERE knot_id = ?1)"
		             " WHERE id = ?1",
		             &st);
		if (rc == KM_OK) {
			sqlite3_bind_int64(st, 1, best);
			sqlite3_bind_double(st, 2, o->x_mm);
			sqlite3_bind_double(st, 3, o->y_mm);
			sqlite3_bind_int64(st, 4, o->time_unix_us);
			sqlite3_bind_double(st, 5, on_body ? b->lateral_mm : 0.0);
			sqlite3_bind_double(st, 6, on_body ? b->along_pct : 0.0);
			rc = step_done(h, st, "update knot");
		}
	}
	if (rc == KM_OK) {
		rc = prepare(h,
		             "INSERT INTO observations(knot_id, session_id, time_us, x_mm, y_mm,"
		             " stiffness, peak_kpa, region, side, lateral_mm, along_pct)"
		             " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
		             &st);
		if (rc == KM_OK) {
			sqlite3_bind_int64(st, 1, best);
			sqlite3_bind_int64(st, 2, o->session_id);
			sqlite3_bind_int64(st, 3, o->time_unix_us);
			sqlite3_bind_double(st, 4, o->x_mm);
			sqlite3_bind_double(st, 5, o->y_mm);
			sqlite3_bind_double(st, 6, o->stiffness);
			sqlite3_bind_double(st, 7, o->peak_kpa);
			sqlite3_bind_text(st, 8, b->region, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int(st, 9, on_body ? b->side : 0);
			sqlite3_bind_double(st, 10, on_body ? b->lateral_mm : 0.0);
			sqlite3_bind_double(st, 11, on_body ? b->along_pct : 0.0);
			rc = step_done(h, st, "add observation");
		}
	}
	if (rc == KM_OK)
		rc = exec(h, "COMMIT");
	else
		(void)sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
	if (rc != KM_OK)
		return rc;
	if (knot_id)
		*knot_id = best;
	if (persistent) {
		*persistent = false;
		sqlite3_stmt *q;
		if (prepare(h,
		            "SELECT COUNT(DISTINCT session_id), MAX(time_us) - MIN(time_us)"
		            " FROM observations WHERE knot_id = ?1",
		            &q) == KM_OK) {
			sqlite3_bind_int64(q, 1, best);
			if (sqlite3_step(q) == SQLITE_ROW)
				*persistent = sqlite3_column_int64(q, 0) >= 2 &&
				              (double)sqlite3_column_int64(q, 1) >
				                  (double)h->cfg.persist_days * 86400e6;
			sqlite3_finalize(q);
		}
	}
	return KM_OK;
}

int km_history_list_knots(km_history *h, int64_t session_id, km_history_knot_fn fn, void *user)
{
	if (!h || !fn)
		return KM_ERR_INVALID_ARG;
	sqlite3_stmt *st;
	int rc = prepare(h,
	                 "SELECT k.id, k.x_mm, k.y_mm, k.body_relative,"
	                 " MIN(o.time_us), MAX(o.time_us), COUNT(DISTINCT o.session_id), COUNT(*),"
	                 " (SELECT stiffness FROM observations l WHERE l.knot_id = k.id"
	                 "  ORDER BY time_us DESC, id DESC LIMIT 1),"
	                 " k.region, k.side, k.lateral_mm, k.along_pct,"
	                 " COUNT(DISTINCT date(o.time_us / 1000000, 'unixepoch', 'localtime')),"
	                 " CAST(julianday(date(MAX(o.time_us) / 1000000, 'unixepoch', 'localtime'))"
	                 "  - julianday(date(MIN(o.time_us) / 1000000, 'unixepoch', 'localtime'))"
	                 "  AS INTEGER)"
	                 " FROM knots k JOIN observations o ON o.knot_id = k.id"
	                 " WHERE ?1 = 0 OR k.id IN"
	                 "  (SELECT knot_id FROM observations WHERE session_id = ?1)"
	                 " GROUP BY k.id ORDER BY MIN(o.time_us), k.id",
	                 &st);
	if (rc != KM_OK)
		return rc;
	sqlite3_bind_int64(st, 1, session_id);
	int s;
	double span = (double)h->cfg.persist_days * 86400e6;
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		struct km_history_knot k;
		memset(&k, 0, sizeof k);
		k.id = sqlite3_column_int64(st, 0);
		k.x_mm = (float)sqlite3_column_double(st, 1);
		k.y_mm = (float)sqlite3_column_double(st, 2);
		k.body_relative = sqlite3_column_int(st, 3) != 0;
		k.first_seen_unix_us = sqlite3_column_int64(st, 4);
		k.last_seen_unix_us = sqlite3_column_int64(st, 5);
		k.sessions = (uint32_t)sqlite3_column_int64(st, 6);
		k.observations = (uint32_t)sqlite3_column_int64(st, 7);
		k.last_stiffness = (float)sqlite3_column_double(st, 8);
		copy_text(k.body.region, sizeof k.body.region, sqlite3_column_text(st, 9));
		k.body.side = sqlite3_column_int(st, 10);
		k.body.lateral_mm = (float)sqlite3_column_double(st, 11);
		k.body.along_pct = (float)sqlite3_column_double(st, 12);
		k.days_seen = (uint32_t)sqlite3_column_int64(st, 13);
		k.span_days = (uint32_t)sqlite3_column_int64(st, 14);
		k.persistent =
		    k.sessions >= 2 && (double)(k.last_seen_unix_us - k.first_seen_unix_us) > span;
		rc = fn(user, &k);
		if (rc != 0)
			break;
	}
	sqlite3_finalize(st);
	if (rc != 0)
		return rc;
	return s == SQLITE_DONE ? KM_OK : db_error(h, s, "list knots");
}

size_t km_history_knot_name(const struct km_history_knot *k, char *buf, size_t n)
{
	int len;
	if (!k)
		len = snprintf(buf, n, "an unnamed spot");
	else if (!k->body.region[0])
		len = snprintf(buf, n, "a spot at (%.0f, %.0f) mm on the %s", (double)k->x_mm,
		               (double)k->y_mm, k->body_relative ? "body outline" : "mat");
	else if (k->body.side == 0)
		len = snprintf(buf, n, "%s (midline)", k->body.region);
	else {
		/* one side of a pair: "left thigh", not "left thighs" */
		size_t rl = strlen(k->body.region);
		bool pair =
		    !strcmp(k->body.region, "thighs") || !strcmp(k->body.region, "lower legs");
		len = snprintf(buf, n, "%s %.*s", k->body.side > 0 ? "left" : "right",
		               (int)(pair ? rl - 1 : rl), k->body.region);
	}
	return len < 0 ? 0 : (size_t)len;
}

size_t km_history_knot_advice(const struct km_history_knot *k, char *buf, size_t n)
{
	char name[96];
	km_history_knot_name(k, name, sizeof name);
	if (!k)
		return (size_t)KM_MAX(0, snprintf(buf, n, "%s", name));
	int len;
	if (k->days_seen <= 1)
		len = snprintf(buf, n, "%s: seen on 1 day", name);
	else
		len =
		    snprintf(buf, n, "%s: seen on %u days over %u days%s", name, k->days_seen,
		             k->span_days, k->persistent ? ": see a healthcare professional" : "");
	return len < 0 ? 0 : (size_t)len;
}

/* ---- holds ------------------------------------------------------------- */

int km_history_add_hold(km_history *h, const struct km_history_hold *d, int64_t *id)
{
	int rc = writable(h);
	if (rc != KM_OK)
		return rc;
	if (!d || !isfinite(d->duration_s) || d->duration_s < 0.0f || !isfinite(d->load_kpa) ||
	    d->load_kpa < 0.0f || !isfinite(d->dose_kpa_s) || d->dose_kpa_s < 0.0f ||
	    !isfinite(d->stiffness_pct) || (unsigned)d->outcome > KM_OUTCOME_STIFFENED)
		return KM_ERR_INVALID_ARG;
	if (!session_exists(h, d->session_id))
		return KM_ERR_NOT_FOUND;
	sqlite3_stmt *st;
	rc = prepare(h,
	             "INSERT INTO holds(session_id, knot_id, start_us, duration_s, load_kpa,"
	             " dose_kpa_s, outcome, stiffness_pct)"
	             " VALUES(?1, NULLIF(?2, 0), ?3, ?4, ?5, ?6, ?7, ?8)",
	             &st);
	if (rc != KM_OK)
		return rc;
	sqlite3_bind_int64(st, 1, d->session_id);
	sqlite3_bind_int64(st, 2, d->knot_id);
	sqlite3_bind_int64(st, 3, d->start_unix_us);
	sqlite3_bind_double(st, 4, d->duration_s);
	sqlite3_bind_double(st, 5, d->load_kpa);
	sqlite3_bind_double(st, 6, d->dose_kpa_s);
	sqlite3_bind_text(st, 7, km_outcome_name(d->outcome), -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 8, d->stiffness_pct);
	rc = step_done(h, st, "add hold");
	if (rc == KM_ERR_EXISTS)
		rc = KM_ERR_NOT_FOUND; /* foreign key: no such knot */
	if (rc == KM_OK && id)
		*id = sqlite3_last_insert_rowid(h->db);
	return rc;
}

int km_history_list_holds(km_history *h, int64_t session_id, km_history_hold_fn fn, void *user)
{
	if (!h || !fn)
		return KM_ERR_INVALID_ARG;
	sqlite3_stmt *st;
	int rc = prepare(h,
	                 "SELECT id, session_id, COALESCE(knot_id, 0), start_us, duration_s,"
	                 " load_kpa, dose_kpa_s, stiffness_pct, outcome FROM holds"
	                 " WHERE ?1 = 0 OR session_id = ?1 ORDER BY start_us, id",
	                 &st);
	if (rc != KM_OK)
		return rc;
	sqlite3_bind_int64(st, 1, session_id);
	int s;
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		struct km_history_hold d;
		memset(&d, 0, sizeof d);
		d.id = sqlite3_column_int64(st, 0);
		d.session_id = sqlite3_column_int64(st, 1);
		d.knot_id = sqlite3_column_int64(st, 2);
		d.start_unix_us = sqlite3_column_int64(st, 3);
		d.duration_s = (float)sqlite3_column_double(st, 4);
		d.load_kpa = (float)sqlite3_column_double(st, 5);
		d.dose_kpa_s = (float)sqlite3_column_double(st, 6);
		d.stiffness_pct = (float)sqlite3_column_double(st, 7);
		const char *o = (const char *)sqlite3_column_text(st, 8);
		(void)km_outcome_parse(o, &d.outcome); /* the schema allows only the three */
		rc = fn(user, &d);
		if (rc != 0)
			break;
	}
	sqlite3_finalize(st);
	if (rc != 0)
		return rc;
	return s == SQLITE_DONE ? KM_OK : db_error(h, s, "list holds");
}

/* ---- red flags --------------------------------------------------------- */

static const char *const kind_names[] = {"other", "numbness", "tingling", "radiating_pain"};

const char *km_red_flag_kind_name(enum km_red_flag_kind kind)
{
	if ((unsigned)kind < KM_ARRAY_SIZE(kind_names))
		return kind_names[kind];
	return "unknown";
}

static bool contains(const char *lower, const char *const *words)
{
	for (; *words; words++)
		if (strstr(lower, *words))
			return true;
	return false;
}

enum km_red_flag_kind km_red_flag_classify(const char *text)
{
	if (!text)
		return KM_RED_FLAG_OTHER;
	char lower[512];
	size_t n = 0;
	for (; text[n] && n < sizeof lower - 1; n++)
		lower[n] = (char)tolower((unsigned char)text[n]);
	lower[n] = '\0';
	static const char *const radiating[] = {"radiat",      "shoot",        "down my leg",
	                                        "down my arm", "down the leg", "down the arm",
	                                        "sciatic",     "electric",     NULL};
	static const char *const numb[] = {"numb", "no feeling", "can't feel", "cannot feel", NULL};
	static const char *const tingle[] = {"tingl", "pins and needles", "prickl", "buzz", NULL};
	/* Radiating pain first: "numb and shooting down my leg" is the more
	 * urgent of the two. */
	if (contains(lower, radiating))
		return KM_RED_FLAG_RADIATING;
	if (contains(lower, numb))
		return KM_RED_FLAG_NUMBNESS;
	if (contains(lower, tingle))
		return KM_RED_FLAG_TINGLING;
	return KM_RED_FLAG_OTHER;
}

int km_history_add_red_flag(km_history *h, int64_t session_id, int64_t time_unix_us,
                            const char *text, int64_t *id)
{
	int rc = writable(h);
	if (rc != KM_OK)
		return rc;
	if (!text || !text[0] || strlen(text) >= 256)
		return KM_ERR_INVALID_ARG;
	if (session_id != 0 && !session_exists(h, session_id))
		return KM_ERR_NOT_FOUND;
	sqlite3_stmt *st;
	rc = prepare(h,
	             "INSERT INTO red_flags(session_id, time_us, kind, text)"
	             " VALUES(NULLIF(?1, 0), ?2, ?3, ?4)",
	             &st);
	if (rc != KM_OK)
		return rc;
	sqlite3_bind_int64(st, 1, session_id);
	sqlite3_bind_int64(st, 2, time_unix_us);
	sqlite3_bind_text(st, 3, kind_names[km_red_flag_classify(text)], -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, text, -1, SQLITE_TRANSIENT);
	rc = step_done(h, st, "add red flag");
	if (rc == KM_OK && id)
		*id = sqlite3_last_insert_rowid(h->db);
	return rc;
}

int km_history_list_red_flags(km_history *h, km_history_red_flag_fn fn, void *user)
{
	if (!h || !fn)
		return KM_ERR_INVALID_ARG;
	sqlite3_stmt *st;
	int rc = prepare(h,
	                 "SELECT id, COALESCE(session_id, 0), time_us, kind, text FROM red_flags"
	                 " ORDER BY time_us, id",
	                 &st);
	if (rc != KM_OK)
		return rc;
	int s;
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		struct km_history_red_flag f;
		memset(&f, 0, sizeof f);
		f.id = sqlite3_column_int64(st, 0);
		f.session_id = sqlite3_column_int64(st, 1);
		f.time_unix_us = sqlite3_column_int64(st, 2);
		const char *k = (const char *)sqlite3_column_text(st, 3);
		for (size_t i = 0; k && i < KM_ARRAY_SIZE(kind_names); i++)
			if (!strcmp(k, kind_names[i]))
				f.kind = (enum km_red_flag_kind)i;
		copy_text(f.text, sizeof f.text, sqlite3_column_text(st, 4));
		rc = fn(user, &f);
		if (rc != 0)
			break;
	}
	sqlite3_finalize(st);
	if (rc != 0)
		return rc;
	return s == SQLITE_DONE ? KM_OK : db_error(h, s, "list red flags");
}

static int count_persistent(void *user, const struct km_history_knot *k)
{
	if (k->persistent)
		(*(uint32_t *)user)++;
	return 0;
}

static int count_flag(void *user, const struct km_history_red_flag *f)
{
	(void)f;
	(*(uint32_t *)user)++;
	return 0;
}

int km_history_advice(km_history *h, struct km_history_advice *out)
{
	if (!h || !out)
		return KM_ERR_INVALID_ARG;
	memset(out, 0, sizeof *out);
	int rc = km_history_list_knots(h, 0, count_persistent, &out->persistent_knots);
	if (rc == KM_OK)
		rc = km_history_list_red_flags(h, count_flag, &out->red_flags);
	out->see_professional = out->persistent_knots > 0 || out->red_flags > 0;
	return rc;
}
