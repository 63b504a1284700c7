/* Native scanner for OTLP trace requests: the receiver's optional accelerator.
 *
 * Why: parsing a request with upb and then reading ~17 attributes per span from
 * Python costs more than twice what decoding alone costs (bench/README.md,
 * "Receiver"). This module walks the protobuf wire format of an
 * ExportTraceServiceRequest once and hands Python, per span, only what the
 * metrics need: the raw AnyValue bytes of a fixed list of attribute keys, the
 * span's times, status, ids, a few flags, and the span's byte range so the rare
 * span that needs more (other conventions, events, content for drift) can be
 * parsed in full by upb (otlp_lite.LiteSpan).
 *
 * It mirrors the reduced schema in otlp_lite.py: the same declared fields, map
 * semantics for attributes (last duplicate key wins, missing value = b""), and
 * UTF-8 checks on the declared string fields. Anything it does not expect
 * (group wire types, a declared field with another wire type, truncation,
 * invalid UTF-8, varints past 10 bytes) makes scan() return None, and the
 * caller parses the request with upb instead, which accepts or rejects it with
 * upb's own error. So this scanner never decides what is malformed; it only
 * takes the common, well-formed case off the slow road.
 * tests/test_processor_native_scan.py checks it against upb, fuzzed inputs included.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_SLOTS 32
#define MAX_BUCKETS 64
#define KEY_TABLE 256        /* power of two, > 2x the keys we look up */
#define INTERN_TABLE 4096    /* power of two */
#define INTERN_MAX_LEN 96

/* flags reported per span */
#define F_EVENTS 1   /* the span has an event with the watched name (evaluation results) */
#define F_OTHER 2    /* a key of interest outside the slots (another convention's, an outcome's) */
#define F_CONTENT 4  /* message content keys */
#define F_ANY 8      /* any slot key or key of interest (not content) */

#define K_OTHER (-1)
#define K_CONTENT (-2)

typedef struct {
    Py_ssize_t len;
    const char *key; /* UTF-8, owned by the scanner object's key list */
    int kind;        /* slot index >= 0, K_OTHER or K_CONTENT */
} KeyEntry;

typedef struct {
    PyObject *value; /* bytes, or NULL */
    uint64_t hash;
} InternEntry;

typedef struct {
    PyObject_HEAD
    PyObject *keys;            /* list keeping the key str objects alive */
    KeyEntry table[KEY_TABLE];
    int n_slots;
    int n_labels;              /* the first n_labels slots form the label tuple */
    unsigned char intern_slot[MAX_SLOTS];
    const char *service_key;
    Py_ssize_t service_len;
    const char *event_name;    /* events with this name set F_EVENTS */
    Py_ssize_t event_len;
    InternEntry *interned;     /* INTERN_TABLE entries */
    int n_interned;
    int trace_ids;             /* 0: records carry b"" for the trace id (nobody reads it) */
    int cost_slot;             /* slot whose raw double is decoded (the cost), or -1 */
    double dur_bounds[MAX_BUCKETS], cost_bounds[MAX_BUCKETS]; /* histogram upper bounds, ascending */
    int n_dur, n_cost;
    PyObject *empty;           /* b"" */
} Scanner;

/* ---------------------------------------------------------------- wire format */

static inline int rd_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out) {
    const uint8_t *p = *pp;
    uint64_t v = 0;
    for (int shift = 0; shift < 70 && p < end; shift += 7) {
        uint8_t b = *p++;
        v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            *pp = p;
            *out = v;
            return 1;
        }
    }
    return 0;
}

/* Reads a tag; 0 on truncation, field number 0 or a tag past 32 bits. */
static inline int rd_tag(const uint8_t **pp, const uint8_t *end, uint32_t *field, int *wt) {
    uint64_t t;
    if (!rd_varint(pp, end, &t) || t > 0xFFFFFFFFu || (t >> 3) == 0)
        return 0;
    *field = (uint32_t)(t >> 3);
    *wt = (int)(t & 7);
    return 1;
}

static inline int rd_len(const uint8_t **pp, const uint8_t *end, const uint8_t **sub, const uint8_t **sub_end) {
    uint64_t n;
    if (!rd_varint(pp, end, &n) || n > (uint64_t)(end - *pp))
        return 0;
    *sub = *pp;
    *sub_end = *pp + n;
    *pp = *sub_end;
    return 1;
}

static inline int skip_field(const uint8_t **pp, const uint8_t *end, int wt) {
    uint64_t v;
    const uint8_t *s, *e;
    switch (wt) {
    case 0:
        return rd_varint(pp, end, &v);
    case 1:
        if (end - *pp < 8) return 0;
        *pp += 8;
        return 1;
    case 2:
        return rd_len(pp, end, &s, &e);
    case 5:
        if (end - *pp < 4) return 0;
        *pp += 4;
        return 1;
    default: /* groups (3, 4) and invalid wire types: leave them to upb */
        return 0;
    }
}

static inline uint64_t rd_fixed64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* Strict UTF-8 (no overlongs, no surrogates, <= U+10FFFF), as upb checks proto3 strings. */
static int utf8_ok(const uint8_t *s, const uint8_t *e) {
    while (e - s >= 8) { /* ASCII, 8 bytes at a time: attribute keys nearly always are */
        uint64_t w;
        memcpy(&w, s, 8);
        if (w & 0x8080808080808080ull) break;
        s += 8;
    }
    while (s < e) {
        uint8_t c = *s;
        if (c < 0x80) {
            s++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            if (e - s < 2 || (s[1] & 0xC0) != 0x80) return 0;
            s += 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            if (e - s < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
            if (c == 0xE0 && s[1] < 0xA0) return 0;  /* overlong */
            if (c == 0xED && s[1] > 0x9F) return 0;  /* surrogate */
            s += 3;
        } else if (c >= 0xF0 && c <= 0xF4) {
            if (e - s < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
                return 0;
            if (c == 0xF0 && s[1] < 0x90) return 0;  /* overlong */
            if (c == 0xF4 && s[1] > 0x8F) return 0;  /* past U+10FFFF */
            s += 4;
        } else {
            return 0;
        }
    }
    return 1;
}

/* ---------------------------------------------------------------- key lookup */

static inline uint64_t key_hash(const uint8_t *k, Py_ssize_t n) {
    uint64_t a = 0, b = 0;
    if (n >= 8) {
        memcpy(&a, k, 8);
        memcpy(&b, k + n - 8, 8);
    } else {
        memcpy(&a, k, (size_t)n);
    }
    uint64_t h = (a * 0x9E3779B97F4A7C15ull) ^ (b * 0xC2B2AE3D27D4EB4Full) ^ ((uint64_t)n * 0x165667B19E3779F9ull);
    return h ^ (h >> 29);
}

static inline int key_kind(const Scanner *sc, const uint8_t *k, Py_ssize_t n, int *kind) {
    size_t i = (size_t)key_hash(k, n) & (KEY_TABLE - 1);
    for (;;) {
        const KeyEntry *e = &sc->table[i];
        if (e->key == NULL) return 0;
        if (e->len == n && memcmp(e->key, k, (size_t)n) == 0) {
            *kind = e->kind;
            return 1;
        }
        i = (i + 1) & (KEY_TABLE - 1);
    }
}

static int add_key(Scanner *sc, PyObject *key, int kind) {
    Py_ssize_t n;
    const char *k = PyUnicode_AsUTF8AndSize(key, &n);
    if (k == NULL) return -1;
    size_t i = (size_t)key_hash((const uint8_t *)k, n) & (KEY_TABLE - 1);
    for (int probes = 0; probes < KEY_TABLE; probes++) {
        KeyEntry *e = &sc->table[i];
        if (e->key == NULL) {
            e->key = k;
            e->len = n;
            e->kind = kind;
            return 0;
        }
        if (e->len == n && memcmp(e->key, k, (size_t)n) == 0)
            return 0; /* first declaration wins: a slot key listed again as "other" stays a slot */
        i = (i + 1) & (KEY_TABLE - 1);
    }
    PyErr_SetString(PyExc_ValueError, "too many keys");
    return -1;
}

/* ---------------------------------------------------------------- values */

/* A bytes object for a raw value; small values of low-cardinality slots are shared. */
static PyObject *value_bytes(Scanner *sc, const uint8_t *p, Py_ssize_t n, int intern) {
    if (n == 0) {
        Py_INCREF(sc->empty);
        return sc->empty;
    }
    if (!intern || n > INTERN_MAX_LEN)
        return PyBytes_FromStringAndSize((const char *)p, n);
    uint64_t h = 1469598103934665603ull;
    for (Py_ssize_t j = 0; j < n; j++)
        h = (h ^ p[j]) * 1099511628211ull;
    size_t i = (size_t)h & (INTERN_TABLE - 1);
    for (;;) {
        InternEntry *e = &sc->interned[i];
        if (e->value == NULL)
            break;
        if (e->hash == h && PyBytes_GET_SIZE(e->value) == n && memcmp(PyBytes_AS_STRING(e->value), p, (size_t)n) == 0) {
            Py_INCREF(e->value);
            return e->value;
        }
        i = (i + 1) & (INTERN_TABLE - 1);
    }
    PyObject *v = PyBytes_FromStringAndSize((const char *)p, n);
    if (v == NULL) return NULL;
    if (sc->n_interned >= INTERN_TABLE / 2) { /* full: start over rather than grow */
        for (int j = 0; j < INTERN_TABLE; j++)
            Py_CLEAR(sc->interned[j].value);
        sc->n_interned = 0;
        i = (size_t)h & (INTERN_TABLE - 1);
    }
    Py_INCREF(v);
    sc->interned[i].value = v;
    sc->interned[i].hash = h;
    sc->n_interned++;
    return v;
}

/* One map entry (KeyValue{key=1, value=2} read as map<string, bytes>). Returns 0 to bail out. */
static inline int rd_entry(const uint8_t *p, const uint8_t *end, const uint8_t **key, Py_ssize_t *klen,
                           const uint8_t **val, Py_ssize_t *vlen) {
    static const uint8_t nothing[1] = {0};
    *key = nothing;
    *klen = 0;
    *val = nothing;
    *vlen = 0;
    while (p < end) {
        uint32_t f;
        int wt;
        if (!rd_tag(&p, end, &f, &wt)) return 0;
        if (f == 1 || f == 2) {
            const uint8_t *s, *e;
            if (wt != 2 || !rd_len(&p, end, &s, &e)) return 0;
            if (f == 1) {
                *key = s;
                *klen = e - s;
            } else {
                *val = s;
                *vlen = e - s;
            }
        } else {
            /* upb keeps an entry with unknown fields out of the map (as an unknown field of the
             * message); KeyValue has no other fields, so leave such a request to upb. */
            return 0;
        }
    }
    return utf8_ok(*key, *key + *klen);
}

/* A string field's bytes, UTF-8 checked. */
static inline int rd_string(const uint8_t **pp, const uint8_t *end, int wt, const uint8_t **s, const uint8_t **e) {
    return wt == 2 && rd_len(pp, end, s, e) && utf8_ok(*s, *e);
}

/* Event{name=2 string, attributes=3 map}: checked, and whether its name is the watched one (last name wins).
 * Returns 0 to bail out, 1 ok, 2 ok and watched. The caller parses spans with watched events in full. */
static int check_event(const Scanner *sc, const uint8_t *p, const uint8_t *end) {
    int watched = 0;
    while (p < end) {
        uint32_t f;
        int wt;
        const uint8_t *s, *e, *k, *v;
        Py_ssize_t kn, vn;
        if (!rd_tag(&p, end, &f, &wt)) return 0;
        if (f == 2) {
            if (!rd_string(&p, end, wt, &s, &e)) return 0;
            watched = e - s == sc->event_len && memcmp(s, sc->event_name, (size_t)(e - s)) == 0;
        } else if (f == 3) {
            if (wt != 2 || !rd_len(&p, end, &s, &e) || !rd_entry(s, e, &k, &kn, &v, &vn)) return 0;
        } else if (!skip_field(&p, end, wt)) {
            return 0;
        }
    }
    return watched ? 2 : 1;
}

/* Status{code=3 int32}. */
static int rd_status(const uint8_t *p, const uint8_t *end, long *code) {
    while (p < end) {
        uint32_t f;
        int wt;
        if (!rd_tag(&p, end, &f, &wt)) return 0;
        if (f == 3) {
            uint64_t v;
            if (wt != 0 || !rd_varint(&p, end, &v)) return 0;
            *code = (long)(int32_t)(uint32_t)v;
        } else if (!skip_field(&p, end, wt)) {
            return 0;
        }
    }
    return 1;
}

/* ---------------------------------------------------------------- spans */

/* bisect.bisect_left over ascending bounds: the histogram bucket of x. */
static inline Py_ssize_t bucket(const double *bounds, int n, double x) {
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (bounds[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* One Span -> a record tuple appended to `out`. Returns 1 ok, 0 bail out, -1 Python error. */
static int scan_span(Scanner *sc, const uint8_t *base, const uint8_t *p, const uint8_t *end, PyObject *out) {
    const uint8_t *span_start = p;
    const uint8_t *vp[MAX_SLOTS];
    Py_ssize_t vn[MAX_SLOTS];
    const uint8_t *trace_id = NULL, *span_id = NULL;
    Py_ssize_t trace_n = 0, span_n = 0;
    uint64_t t_start = 0, t_end = 0;
    long status = 0;
    long flags = 0;
    int n_slots = sc->n_slots;
    for (int i = 0; i < n_slots; i++) {
        vp[i] = NULL;
        vn[i] = 0;
    }
    while (p < end) {
        uint32_t f;
        int wt;
        const uint8_t *s, *e;
        if (!rd_tag(&p, end, &f, &wt)) return 0;
        switch (f) {
        case 9: { /* attributes */
            const uint8_t *k, *v;
            Py_ssize_t kn, vlen;
            int kind;
            if (wt != 2 || !rd_len(&p, end, &s, &e) || !rd_entry(s, e, &k, &kn, &v, &vlen)) return 0;
            if (key_kind(sc, k, kn, &kind)) {
                if (kind >= 0) {
                    vp[kind] = v;
                    vn[kind] = vlen;
                    flags |= F_ANY;
                } else {
                    flags |= kind == K_CONTENT ? F_CONTENT : (F_OTHER | F_ANY);
                }
            }
            break;
        }
        case 1:
        case 2:
            if (wt != 2 || !rd_len(&p, end, &s, &e)) return 0;
            if (f == 1) {
                trace_id = s;
                trace_n = e - s;
            } else {
                span_id = s;
                span_n = e - s;
            }
            break;
        case 7:
        case 8:
            if (wt != 1 || end - p < 8) return 0;
            if (f == 7)
                t_start = rd_fixed64(p);
            else
                t_end = rd_fixed64(p);
            p += 8;
            break;
        case 11: {
            int r;
            if (wt != 2 || !rd_len(&p, end, &s, &e) || !(r = check_event(sc, s, e))) return 0;
            if (r == 2) flags |= F_EVENTS;
            break;
        }
        case 15:
            if (wt != 2 || !rd_len(&p, end, &s, &e) || !rd_status(s, e, &status)) return 0;
            break;
        default:
            if (!skip_field(&p, end, wt)) return 0;
        }
    }

    PyObject *labels = PyTuple_New(sc->n_labels);
    PyObject *values = PyTuple_New(n_slots - sc->n_labels);
    PyObject *rec = PyTuple_New(13);
    if (labels == NULL || values == NULL || rec == NULL) goto fail;
    for (int i = 0; i < n_slots; i++) {
        PyObject *v;
        if (vp[i] == NULL) {
            Py_INCREF(sc->empty);
            v = sc->empty;
        } else {
            v = value_bytes(sc, vp[i], vn[i], sc->intern_slot[i]);
            if (v == NULL) goto fail;
        }
        if (i < sc->n_labels)
            PyTuple_SET_ITEM(labels, i, v);
        else
            PyTuple_SET_ITEM(values, i - sc->n_labels, v);
    }
    PyTuple_SET_ITEM(rec, 0, labels);
    PyTuple_SET_ITEM(rec, 1, values);
    labels = values = NULL;
    /* duration and its bucket (None: no start, or an end before it); the cost, if a double, and
     * its bucket (None unless 0 <= cost < inf): exactly what ingest._record computes in Python. */
    PyObject *items[11];
    items[0] = PyLong_FromUnsignedLongLong(t_start);
    if (t_start == 0 || t_end < t_start) {
        items[1] = Py_NewRef(Py_None);
        items[2] = Py_NewRef(Py_None);
    } else {
        double d = (double)(t_end - t_start) / 1e9;
        items[1] = PyFloat_FromDouble(d);
        items[2] = PyLong_FromSsize_t(bucket(sc->dur_bounds, sc->n_dur, d));
    }
    int cs = sc->cost_slot;
    if (cs >= 0 && vp[cs] != NULL && vn[cs] == 9 && vp[cs][0] == 0x21) {
        uint64_t bits = rd_fixed64(vp[cs] + 1);
        double c;
        memcpy(&c, &bits, 8);
        items[3] = PyFloat_FromDouble(c);
        items[4] = c >= 0.0 && c < Py_HUGE_VAL ? PyLong_FromSsize_t(bucket(sc->cost_bounds, sc->n_cost, c))
                                              : Py_NewRef(Py_None);
    } else {
        items[3] = Py_NewRef(Py_None);
        items[4] = Py_NewRef(Py_None);
    }
    items[5] = PyLong_FromLong(status);
    items[6] = span_id ? PyBytes_FromStringAndSize((const char *)span_id, span_n) : Py_NewRef(sc->empty);
    items[7] = trace_id && sc->trace_ids ? PyBytes_FromStringAndSize((const char *)trace_id, trace_n)
                                         : Py_NewRef(sc->empty);
    items[8] = PyLong_FromLong(flags);
    items[9] = PyLong_FromSsize_t(span_start - base);
    items[10] = PyLong_FromSsize_t(end - base);
    for (int i = 0; i < 11; i++) {
        if (items[i] == NULL) {
            for (int j = i + 1; j < 11; j++)
                Py_XDECREF(items[j]);
            goto fail;
        }
        PyTuple_SET_ITEM(rec, 2 + i, items[i]);
    }
    /* Only bytes and ints inside: no reference cycles possible, so keep the collector off them
     * (thousands of these per request would otherwise make every gen-0 collection walk them). */
    PyObject_GC_UnTrack(PyTuple_GET_ITEM(rec, 0));
    PyObject_GC_UnTrack(PyTuple_GET_ITEM(rec, 1));
    PyObject_GC_UnTrack(rec);
    if (PyList_Append(out, rec) < 0) goto fail;
    Py_DECREF(rec);
    return 1;
fail:
    Py_XDECREF(labels);
    Py_XDECREF(values);
    Py_XDECREF(rec);
    return -1;
}

/* ScopeSpans{scope=1 Scope{name=1}, spans=2} -> (scope name, records) appended to `scopes`. */
static int scan_scope_spans(Scanner *sc, const uint8_t *base, const uint8_t *p, const uint8_t *end,
                            PyObject *scopes) {
    const uint8_t *name = NULL, *name_end = NULL;
    PyObject *recs = PyList_New(0);
    if (recs == NULL) return -1;
    while (p < end) {
        uint32_t f;
        int wt;
        const uint8_t *s, *e;
        if (!rd_tag(&p, end, &f, &wt)) goto bail;
        if (f == 1) {
            if (wt != 2 || !rd_len(&p, end, &s, &e)) goto bail;
            while (s < e) { /* Scope: name=1; several scope fields merge, the last name wins */
                uint32_t g;
                int gwt;
                const uint8_t *ns, *ne;
                if (!rd_tag(&s, e, &g, &gwt)) goto bail;
                if (g == 1) {
                    if (!rd_string(&s, e, gwt, &ns, &ne)) goto bail;
                    name = ns;
                    name_end = ne;
                } else if (!skip_field(&s, e, gwt)) {
                    goto bail;
                }
            }
        } else if (f == 2) {
            if (wt != 2 || !rd_len(&p, end, &s, &e)) goto bail;
            int r = scan_span(sc, base, s, e, recs);
            if (r < 0) goto error;
            if (r == 0) goto bail;
        } else if (!skip_field(&p, end, wt)) {
            goto bail;
        }
    }
    PyObject *scope_name = name ? PyUnicode_DecodeUTF8((const char *)name, name_end - name, "strict")
                                : PyUnicode_FromStringAndSize("", 0);
    if (scope_name == NULL) goto error;
    PyObject *entry = PyTuple_Pack(2, scope_name, recs);
    Py_DECREF(scope_name);
    Py_DECREF(recs);
    if (entry == NULL) return -1;
    int r = PyList_Append(scopes, entry);
    Py_DECREF(entry);
    return r < 0 ? -1 : 1;
bail:
    Py_DECREF(recs);
    return 0;
error:
    Py_DECREF(recs);
    return -1;
}

/* Resource{attributes=1 map}: the service name's raw value (last wins), or NULL if absent. */
static int scan_resource(Scanner *sc, const uint8_t *p, const uint8_t *end, const uint8_t **svc, Py_ssize_t *svc_n) {
    while (p < end) {
        uint32_t f;
        int wt;
        const uint8_t *s, *e, *k, *v;
        Py_ssize_t kn, vlen;
        if (!rd_tag(&p, end, &f, &wt)) return 0;
        if (f == 1) {
            if (wt != 2 || !rd_len(&p, end, &s, &e) || !rd_entry(s, e, &k, &kn, &v, &vlen)) return 0;
            if (kn == sc->service_len && memcmp(k, sc->service_key, (size_t)kn) == 0) {
                *svc = v;
                *svc_n = vlen;
            }
        } else if (!skip_field(&p, end, wt)) {
            return 0;
        }
    }
    return 1;
}

static PyObject *Scanner_scan(Scanner *sc, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    const uint8_t *base = (const uint8_t *)view.buf;
    const uint8_t *p = base, *end = base + view.len;
    PyObject *result = PyList_New(0);
    if (result == NULL) goto error;
    while (p < end) {
        uint32_t f;
        int wt;
        const uint8_t *s, *e;
        if (!rd_tag(&p, end, &f, &wt)) goto bail;
        if (f != 1) {
            if (!skip_field(&p, end, wt)) goto bail;
            continue;
        }
        if (wt != 2 || !rd_len(&p, end, &s, &e)) goto bail;
        /* ResourceSpans{resource=1, scope_spans=2}: the service is known only at its end. */
        const uint8_t *svc = NULL;
        Py_ssize_t svc_n = 0;
        PyObject *scopes = PyList_New(0);
        if (scopes == NULL) goto error;
        while (s < e) {
            uint32_t g;
            int gwt;
            const uint8_t *ss, *se;
            int r = 1;
            if (!rd_tag(&s, e, &g, &gwt)) r = 0;
            else if (g == 1) r = gwt == 2 && rd_len(&s, e, &ss, &se) && scan_resource(sc, ss, se, &svc, &svc_n);
            else if (g == 2) r = gwt == 2 && rd_len(&s, e, &ss, &se) ? scan_scope_spans(sc, base, ss, se, scopes) : 0;
            else r = skip_field(&s, e, gwt);
            if (r <= 0) {
                Py_DECREF(scopes);
                if (r < 0) goto error;
                goto bail;
            }
        }
        PyObject *service;
        if (svc == NULL) {
            Py_INCREF(Py_None);
            service = Py_None;
        } else {
            service = value_bytes(sc, svc, svc_n, 1);
            if (service == NULL) {
                Py_DECREF(scopes);
                goto error;
            }
        }
        PyObject *entry = PyTuple_Pack(2, service, scopes);
        Py_DECREF(service);
        Py_DECREF(scopes);
        if (entry == NULL || PyList_Append(result, entry) < 0) {
            Py_XDECREF(entry);
            goto error;
        }
        Py_DECREF(entry);
    }
    PyBuffer_Release(&view);
    return result;
bail:
    PyBuffer_Release(&view);
    Py_XDECREF(result);
    Py_RETURN_NONE;
error:
    PyBuffer_Release(&view);
    Py_XDECREF(result);
    return NULL;
}

/* ---------------------------------------------------------------- type */

static int Scanner_init(Scanner *sc, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"labels", "values", "other", "content", "service_key", "event_name", "interned",
                             "cost_slot", "duration_buckets", "cost_buckets", "trace_ids", NULL};
    PyObject *labels, *values, *other, *content, *service, *event, *interned, *dur_b, *cost_b;
    int trace_ids = 1, cost_slot = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O!O!O!UUOiO!O!|p", kwlist, &PyTuple_Type, &labels, &PyTuple_Type,
                                     &values, &PyTuple_Type, &other, &PyTuple_Type, &content, &service, &event,
                                     &interned, &cost_slot, &PyTuple_Type, &dur_b, &PyTuple_Type, &cost_b, &trace_ids))
        return -1;
    PyObject *bounds[2] = {dur_b, cost_b};
    for (int b = 0; b < 2; b++) {
        Py_ssize_t n = PyTuple_GET_SIZE(bounds[b]);
        if (n > MAX_BUCKETS) {
            PyErr_SetString(PyExc_ValueError, "too many buckets");
            return -1;
        }
        double *out = b == 0 ? sc->dur_bounds : sc->cost_bounds;
        for (Py_ssize_t i = 0; i < n; i++) {
            out[i] = PyFloat_AsDouble(PyTuple_GET_ITEM(bounds[b], i));
            if (out[i] == -1.0 && PyErr_Occurred()) return -1;
            if (i > 0 && !(out[i] > out[i - 1])) {
                PyErr_SetString(PyExc_ValueError, "bucket bounds must ascend");
                return -1;
            }
        }
        *(b == 0 ? &sc->n_dur : &sc->n_cost) = (int)n;
    }
    Py_ssize_t n_labels = PyTuple_GET_SIZE(labels), n_values = PyTuple_GET_SIZE(values);
    if (n_labels + n_values > MAX_SLOTS) {
        PyErr_SetString(PyExc_ValueError, "too many slots");
        return -1;
    }
    if (sc->keys != NULL || sc->interned != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Scanner is already initialised");
        return -1;
    }
    sc->keys = PyList_New(0);
    sc->interned = PyMem_Calloc(INTERN_TABLE, sizeof(InternEntry));
    sc->empty = PyBytes_FromStringAndSize(NULL, 0);
    if (sc->keys == NULL || sc->interned == NULL || sc->empty == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    memset(sc->table, 0, sizeof(sc->table));
    memset(sc->intern_slot, 0, sizeof(sc->intern_slot));
    sc->n_labels = (int)n_labels;
    sc->trace_ids = trace_ids;
    if (cost_slot < -1 || cost_slot >= n_labels + n_values) {
        PyErr_SetString(PyExc_ValueError, "cost_slot out of range");
        return -1;
    }
    sc->cost_slot = cost_slot;
    sc->n_slots = (int)(n_labels + n_values);
    PyObject *groups[4] = {labels, values, other, content};
    for (int g = 0; g < 4; g++) {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(groups[g]); i++) {
            PyObject *k = PyTuple_GET_ITEM(groups[g], i);
            if (!PyUnicode_Check(k)) {
                PyErr_SetString(PyExc_TypeError, "keys must be str");
                return -1;
            }
            if (PyList_Append(sc->keys, k) < 0) return -1;
            int kind = g == 0 ? (int)i : g == 1 ? (int)(n_labels + i) : g == 2 ? K_OTHER : K_CONTENT;
            if (add_key(sc, k, kind) < 0) return -1;
        }
    }
    if (PyList_Append(sc->keys, service) < 0) return -1;
    sc->service_key = PyUnicode_AsUTF8AndSize(service, &sc->service_len);
    if (sc->service_key == NULL) return -1;
    if (PyList_Append(sc->keys, event) < 0) return -1;
    sc->event_name = PyUnicode_AsUTF8AndSize(event, &sc->event_len);
    if (sc->event_name == NULL) return -1;
    PyObject *it = PyObject_GetIter(interned);
    if (it == NULL) return -1;
    PyObject *item;
    while ((item = PyIter_Next(it)) != NULL) {
        long i = PyLong_AsLong(item);
        Py_DECREF(item);
        if (i < 0 || i >= sc->n_slots) {
            Py_DECREF(it);
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "interned: slot index out of range");
            return -1;
        }
        sc->intern_slot[i] = 1;
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

static void Scanner_dealloc(Scanner *sc) {
    if (sc->interned != NULL) {
        for (int j = 0; j < INTERN_TABLE; j++)
            Py_XDECREF(sc->interned[j].value);
        PyMem_Free(sc->interned);
    }
    Py_XDECREF(sc->keys);
    Py_XDECREF(sc->empty);
    Py_TYPE(sc)->tp_free((PyObject *)sc);
}

static PyMethodDef Scanner_methods[] = {
    {"scan", (PyCFunction)Scanner_scan, METH_O,
     "scan(data) -> [(service raw value or None, [(scope name, [record, ...]), ...]), ...], or None\n"
     "when the request needs upb to judge it. record = (labels, values, start_ns, duration_s, duration bucket,\n"
     "cost, cost bucket, status code, span_id, trace_id, flags, span offset, span end)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ScannerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "otel_llm.processor._otlp_scan.Scanner",
    .tp_basicsize = sizeof(Scanner),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Scanner(labels, values, other, content, service_key, event_name, interned, cost_slot, duration_buckets, "
               "cost_buckets, trace_ids=True): reads OTLP trace requests.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Scanner_init,
    .tp_dealloc = (destructor)Scanner_dealloc,
    .tp_methods = Scanner_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_otlp_scan",
    .m_doc = "Native scanner for OTLP trace requests (optional accelerator).",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__otlp_scan(void) {
    if (PyType_Ready(&ScannerType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&ScannerType);
    if (PyModule_AddObject(m, "Scanner", (PyObject *)&ScannerType) < 0) {
        Py_DECREF(&ScannerType);
        Py_DECREF(m);
        return NULL;
    }
    PyModule_AddIntConstant(m, "F_EVENTS", F_EVENTS);
    PyModule_AddIntConstant(m, "F_OTHER", F_OTHER);
    PyModule_AddIntConstant(m, "F_CONTENT", F_CONTENT);
    PyModule_AddIntConstant(m, "F_ANY", F_ANY);
    return m;
}
