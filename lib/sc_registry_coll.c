/* sc_registry_coll: collections, their frozen versions and splits. */
/* SPDX-License-Identifier: MIT */

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sc_hash.h"
#include "sc_registry_int.h"

/* ---- collections ---- */

/* The id of collection NAME; LOCK: its row locked until the transaction
 * ends (PostgreSQL; SQLite's write transaction holds the whole file), so
 * that two writers freeze versions or edit members one after the other. */
int rg_collection_id(sc_registry *reg, const char *name, int lock, int64_t *id)
{
    char sql[128];
    sc_rst *st;
    int rc;

    snprintf(sql, sizeof sql, "SELECT id FROM collection WHERE name = ?%s",
             lock ? reg->ops->for_update : "");
    if ((rc = rg_prepare(reg, sql, &st)) < 0)
        return rc;
    st_text(st, 1, name);
    rc = rg_step_int(reg, st, id);
    st_free(st);
    if (rc == 0)
        return sc_fail(SC_ENOTFOUND, "no collection '%s'", name);
    return rc < 0 ? rc : 0;
}

int sc_registry_collection_create(sc_registry *reg, const char *name,
                                  const char *description)
{
    sc_rst *st;
    int rc;

    if (!*name || strchr(name, '@') || strchr(name, '\t') || strchr(name, '\n'))
        return sc_fail(SC_EINVAL,
                       "bad collection name '%s' (no '@', tab or newline)",
                       name);
    if ((rc = rg_prepare(reg,
                         "INSERT INTO collection(name, description, created)"
                         " VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                         &st)) < 0)
        return rc;
    st_text(st, 1, name);
    st_text(st, 2, description);
    st_int(st, 3, (int64_t)time(NULL));
    rc = rg_step_done(reg, st, "collection");
    st_free(st);
    if (rc == 0 && reg->changes == 0)
        rc = sc_fail(SC_EEXIST, "collection '%s' exists", name);
    return rc;
}

int sc_registry_collection_edit(sc_registry *reg, const char *name, int remove,
                                const int64_t *ids, const double *weights,
                                size_t n, int64_t *changed)
{
    sc_rst *st = NULL;
    int64_t cid, ch = 0;
    int rc;

    if (changed)
        *changed = 0;
    if ((rc = rg_begin(reg)) < 0)
        return rc;
    if ((rc = rg_collection_id(reg, name, 1, &cid)) < 0)
        goto out;
    rc =
        rg_prepare(reg,
                   remove ? "DELETE FROM collection_member WHERE"
                            " collection_id = ?1 AND artifact_id = ?2"
                          : "INSERT INTO collection_member VALUES (?1, ?2, ?3)"
                            " ON CONFLICT(collection_id, artifact_id) DO UPDATE"
                            " SET weight = excluded.weight",
                   &st);
    for (size_t i = 0; i < n && rc == 0; i++) {
        st_int(st, 1, cid);
        st_int(st, 2, ids[i]);
        if (!remove)
            st_double(st, 3, weights ? weights[i] : 1.0);
        if (st_step(st) != ST_DONE) {
            rc = reg->constraint
                     ? sc_fail(SC_ENOTFOUND, "no artifact %" PRId64, ids[i])
                     : rg_db_fail(reg, "collection members");
            break;
        }
        ch += reg->changes;
        st_reset(st);
    }
    st_free(st);
    st = NULL;
    if (rc == 0)
        rc = rg_commit(reg);
out:
    if (rc < 0)
        rg_rollback(reg);
    else if (changed)
        *changed = ch;
    return rc;
}

int sc_registry_collection_freeze(sc_registry *reg, const char *name,
                                  int64_t *version, int64_t *vid)
{
    sc_rst *st = NULL;
    int64_t cid, n = 0;
    int rc;

    *version = *vid = 0;
    if ((rc = rg_begin(reg)) < 0)
        return rc;
    if ((rc = rg_collection_id(reg, name, 1, &cid)) < 0 ||
        (rc = rg_prepare(reg,
                         "SELECT COUNT(*) FROM collection_member"
                         " WHERE collection_id = ?",
                         &st)) < 0)
        goto out;
    st_int(st, 1, cid);
    if ((rc = rg_step_int(reg, st, &n)) < 0)
        goto out;
    st_free(st);
    st = NULL;
    if (n == 0) {
        rc = sc_fail(SC_EINVAL, "collection '%s' has no members to freeze",
                     name);
        goto out;
    }
    if ((rc =
             rg_prepare(reg,
                        "INSERT INTO collection_version(collection_id, version,"
                        " created) SELECT ?1, COALESCE(MAX(version), 0) + 1, ?2"
                        " FROM collection_version WHERE collection_id = ?1"
                        " RETURNING id, version",
                        &st)) < 0)
        goto out;
    st_int(st, 1, cid);
    st_int(st, 2, (int64_t)time(NULL));
    if (st_step(st) != ST_ROW) {
        rc = rg_db_fail(reg, "freeze");
        goto out;
    }
    *vid = st_col_int(st, 0);
    *version = st_col_int(st, 1);
    st_free(st);
    st = NULL;
    if ((rc = rg_prepare(reg,
                         "INSERT INTO collection_version_member SELECT ?1,"
                         " m.artifact_id, a.n_obs, m.weight FROM"
                         " collection_member m JOIN artifact a"
                         " ON a.id = m.artifact_id WHERE m.collection_id = ?2"
                         " ORDER BY m.artifact_id",
                         &st)) < 0)
        goto out;
    st_int(st, 1, *vid);
    st_int(st, 2, cid);
    if ((rc = rg_step_done(reg, st, "freeze")) < 0)
        goto out;
    st_free(st);
    st = NULL;
    rc = rg_commit(reg);
out:
    st_free(st);
    if (rc < 0) {
        rg_rollback(reg);
        *version = *vid = 0;
    }
    return rc;
}

int sc_registry_collection_version(sc_registry *reg, const char *ref,
                                   int64_t *vid)
{
    sc_rst *st;
    const char *at = strrchr(ref, '@');
    char *name;
    int64_t v = 0, cid;
    int rc, latest = !at || !strcmp(at + 1, "latest");

    *vid = 0;
    if (!(name = at ? strndup(ref, (size_t)(at - ref)) : strdup(ref)))
        return sc_fail(SC_ENOMEM, "out of memory");
    if (!latest && (!at[1] || strspn(at + 1, "0123456789") != strlen(at + 1))) {
        free(name);
        return sc_fail(SC_EINVAL, "bad collection version '%s' (NAME@N)", ref);
    }
    if (!latest)
        v = strtoll(at + 1, NULL, 10);
    if ((rc = rg_collection_id(reg, name, 0, &cid)) < 0) {
        free(name);
        return rc;
    }
    free(name);
    if ((rc = rg_prepare(reg,
                         latest ? "SELECT id FROM collection_version WHERE"
                                  " collection_id = ?1 ORDER BY version DESC"
                                  " LIMIT 1"
                                : "SELECT id FROM collection_version WHERE"
                                  " collection_id = ?1 AND version = ?2",
                         &st)) < 0)
        return rc;
    st_int(st, 1, cid);
    if (!latest)
        st_int(st, 2, v);
    rc = rg_step_int(reg, st, vid);
    st_free(st);
    if (rc == 0)
        return sc_fail(SC_ENOTFOUND, "no version %s%s", ref,
                       latest ? " (not frozen yet)" : "");
    return rc < 0 ? rc : 0;
}

/* The sha256 of the LEN bytes at P into HEX. */
static int hash_bytes(const char *p, size_t len, char hex[65])
{
    sc_hash *h = NULL;
    int rc;

    if ((rc = sc_hash_new(&h)) == 0 && (rc = sc_hash_update(h, p, len)) == 0)
        rc = sc_hash_final(h, hex);
    sc_hash_free(h);
    return rc;
}

int sc_registry_split_set(sc_registry *reg, int64_t vid, const char *content,
                          size_t len, char sha256[65])
{
    char *had = NULL, had_sha[65];
    size_t had_len;
    sc_rst *st = NULL;
    int rc;

    if (memchr(content, '\0', len))
        return sc_fail(SC_EINVAL, "a split file is text: it has a NUL byte");
    if ((rc = hash_bytes(content, len, sha256)) < 0 || (rc = rg_begin(reg)) < 0)
        return rc;
    if ((rc = sc_registry_split_get(reg, vid, &had, &had_len, had_sha)) < 0)
        goto out;
    if (had) {
        if (strcmp(had_sha, sha256))
            rc = sc_fail(SC_EEXIST,
                         "the collection version has a split already (sha256 "
                         "%.12s...), and versions do not change",
                         had_sha);
        goto out;
    }
    if ((rc = rg_prepare(
             reg,
             "INSERT INTO collection_version_split(version_id,"
             " sha256, size, content, created) VALUES (?, ?, ?, ?, ?)",
             &st)) < 0)
        goto out;
    st_int(st, 1, vid);
    st_text(st, 2, sha256);
    st_int(st, 3, (int64_t)len);
    st_text(st, 4, content);
    st_int(st, 5, (int64_t)time(NULL));
    if ((rc = rg_step_done(reg, st, "store the split")) == 0)
        rc = rg_commit(reg);
out:
    st_free(st);
    free(had);
    if (rc < 0)
        rg_rollback(reg);
    else if (reg->in_tx)
        rc = rg_commit(reg);
    return rc;
}

int sc_registry_split_get(sc_registry *reg, int64_t vid, char **content,
                          size_t *len, char sha256[65])
{
    char got[65];
    sc_rst *st;
    int rc, s;

    *content = NULL;
    *len = 0;
    sha256[0] = '\0';
    if ((rc = rg_prepare(reg,
                         "SELECT sha256, content FROM collection_version_split"
                         " WHERE version_id = ?",
                         &st)) < 0)
        return rc;
    st_int(st, 1, vid);
    if ((s = st_step(st)) == ST_ROW) {
        snprintf(sha256, 65, "%s", st_col_text(st, 0));
        if (!(*content = strdup(st_col_text(st, 1))))
            rc = sc_fail(SC_ENOMEM, "out of memory");
    }
    rc = rg_step_end(reg, st, rc, s);
    if (rc == 0 && *content) {
        *len = strlen(*content);
        if ((rc = hash_bytes(*content, *len, got)) == 0 && strcmp(got, sha256))
            rc = sc_fail(SC_EREGISTRY,
                         "registry '%s': the stored split file does not match "
                         "its sha256",
                         reg->path);
    }
    if (rc < 0) {
        free(*content);
        *content = NULL;
        *len = 0;
    }
    return rc;
}

int sc_registry_collection_members(sc_registry *reg, int64_t vid,
                                   sc_reg_artifact_fn fn, void *ud)
{
    sc_rst *st;
    int rc;

    if ((rc = rg_prepare(reg,
                         "SELECT " ARTIFACT_COLS ", m.n_obs, m.weight"
                         " FROM collection_version_member m"
                         " JOIN artifact a ON a.id = m.artifact_id"
                         " LEFT JOIN storage s ON s.id = a.storage_id"
                         " WHERE m.version_id = ? ORDER BY a.id",
                         &st)) < 0)
        return rc;
    st_int(st, 1, vid);
    rc = rg_each_artifact(reg, st, 3, fn, ud, NULL);
    st_free(st);
    return rc;
}

int sc_registry_collection_draft(sc_registry *reg, const char *name,
                                 sc_reg_artifact_fn fn, void *ud)
{
    sc_rst *st;
    int64_t cid;
    int rc;

    if ((rc = rg_collection_id(reg, name, 0, &cid)) < 0 ||
        (rc = rg_prepare(reg,
                         "SELECT " ARTIFACT_COLS ", a.n_obs, m.weight"
                         " FROM collection_member m"
                         " JOIN artifact a ON a.id = m.artifact_id"
                         " LEFT JOIN storage s ON s.id = a.storage_id"
                         " WHERE m.collection_id = ? ORDER BY a.id",
                         &st)) < 0)
        return rc;
    st_int(st, 1, cid);
    rc = rg_each_artifact(reg, st, 3, fn, ud, NULL);
    st_free(st);
    return rc;
}

int sc_registry_collections(sc_registry *reg,
                            int (*fn)(const char *name, int64_t versions,
                                      int64_t members, const char *description,
                                      void *ud),
                            void *ud)
{
    sc_rst *st;
    int rc;

    if ((rc = rg_prepare(reg,
                         "SELECT c.name, (SELECT COUNT(*) FROM"
                         " collection_version v WHERE v.collection_id = c.id),"
                         " (SELECT COUNT(*) FROM collection_member m WHERE"
                         " m.collection_id = c.id), c.description"
                         " FROM collection c ORDER BY c.name",
                         &st)) < 0)
        return rc;
    int s = ST_ROW;
    rc = 0;
    while (rc == 0 && (s = st_step(st)) == ST_ROW)
        rc = fn(st_col_text(st, 0), st_col_int(st, 1), st_col_int(st, 2),
                st_col_text(st, 3), ud);
    rc = rg_step_end(reg, st, rc, s);
    return rc;
}
