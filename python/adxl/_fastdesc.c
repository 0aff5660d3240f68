/* adxl._fastdesc: turns Python descriptor batches into the packed table of
 * adxl_transfer_op_desc_t ({local_addr, remote_addr, len}, three uint64) that the ctypes
 * layer hands to adxl_transfer_sync/adxl_transfer_async by address. It does not link
 * libadxl: it only removes the per-descriptor Python loop. Every function returns
 * (address, count, keepalive); the table stays valid while keepalive lives.
 * python/adxl/_descs.py holds the same rules in Python, for when this module is missing. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

_Static_assert(sizeof(uintptr_t) == 8 && sizeof(size_t) == 8,
               "adxl_transfer_op_desc_t is three uint64 only on 64-bit targets");

enum { FIELDS = 3 };
static const char *const field_names[FIELDS] = {"local address", "remote address", "length"};

/* One field of one descriptor: an int (or anything with __index__); an address may also be
 * an object with .addr (adxl.Region). */
static int field_value(PyObject *obj, Py_ssize_t row, int field, uint64_t *out) {
    PyObject *num = NULL;
    if (PyLong_CheckExact(obj)) {
        Py_INCREF(obj);
        num = obj;
    } else {
        num = PyNumber_Index(obj);
        if (!num && field < 2 && PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyObject *addr = PyObject_GetAttrString(obj, "addr");
            if (addr) {
                PyErr_Clear();
                num = PyNumber_Index(addr);
                Py_DECREF(addr);
            }
        }
        if (!num) {
            if (PyErr_ExceptionMatches(PyExc_TypeError) ||
                PyErr_ExceptionMatches(PyExc_AttributeError)) {
                PyErr_Format(PyExc_TypeError,
                             "descriptor %zd: the %s must be an integer, not %.100s", row,
                             field_names[field], Py_TYPE(obj)->tp_name);
            }
            return -1;
        }
    }
    unsigned long long v = PyLong_AsUnsignedLongLong(num);
    Py_DECREF(num);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Format(PyExc_ValueError, "descriptor %zd: the %s must be in 0 .. 2**64-1", row,
                     field_names[field]);
        return -1;
    }
    *out = v;
    return 0;
}

/* A list whose length is no longer count (changed by an item's __index__): an error. */
static int sequence_changed(PyObject *seq, Py_ssize_t count) {
    if (PySequence_Fast_GET_SIZE(seq) == count) return 0;
    PyErr_SetString(PyExc_ValueError, "the descriptors changed while being packed");
    return -1;
}

static PyObject *table_result(PyObject *keep, const void *addr, Py_ssize_t count) {
    return Py_BuildValue("(KnN)", (unsigned long long)(uintptr_t)addr, count, keep);
}

static PyObject *new_table(Py_ssize_t count, uint64_t **words) {
    if (count > PY_SSIZE_T_MAX / (Py_ssize_t)(FIELDS * sizeof(uint64_t))) return PyErr_NoMemory();
    PyObject *bytes =
        PyBytes_FromStringAndSize(NULL, count * FIELDS * (Py_ssize_t)sizeof(uint64_t));
    if (bytes) *words = (uint64_t *)PyBytes_AS_STRING(bytes);
    return bytes;
}

/* pack(descs): a list/tuple/iterable of (local, remote, length) triples. */
static PyObject *fastdesc_pack(PyObject *self, PyObject *descs) {
    (void)self;
    PyObject *seq = PySequence_Fast(descs, "descriptors must be an iterable of "
                                           "(local, remote, length)");
    if (!seq) return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    uint64_t *words = NULL;
    PyObject *table = new_table(count, &words);
    if (!table) goto fail;
    /* An item's __index__ may run Python code that changes the list: each item is fetched
     * (and held) afresh, and each triple is a tuple (a copy unless it is one already). */
    for (Py_ssize_t i = 0; i < count; i++) {
        if (sequence_changed(seq, count) != 0) goto fail;
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        Py_INCREF(item);
        PyObject *triple = item;
        if (PyTuple_Check(item))
            Py_INCREF(item);
        else
            triple = PySequence_Tuple(item);
        if (!triple || PyTuple_GET_SIZE(triple) != FIELDS) {
            Py_XDECREF(triple);
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError,
                         "descriptor %zd: expected (local, remote, length), got %.100s", i,
                         Py_TYPE(item)->tp_name);
            Py_DECREF(item);
            goto fail;
        }
        Py_DECREF(item);
        for (int f = 0; f < FIELDS; f++) {
            if (field_value(PyTuple_GET_ITEM(triple, f), i, f, &words[i * FIELDS + f]) != 0) {
                Py_DECREF(triple);
                goto fail;
            }
        }
        Py_DECREF(triple);
    }
    Py_DECREF(seq);
    return table_result(table, words, count);
fail:
    Py_XDECREF(table);
    Py_DECREF(seq);
    return NULL;
}

/* A buffer's one-item format without its byte-order prefix; NULL if not in native order. */
static const char *native_code(const char *fmt) {
    if (*fmt == '@' || *fmt == '=' || (*fmt == '<' && PY_LITTLE_ENDIAN) ||
        (*fmt == '>' && PY_BIG_ENDIAN))
        return fmt + 1;
    return (*fmt == '<' || *fmt == '>' || *fmt == '!') ? NULL : fmt;
}

/* 1: unsigned 64-bit integers, -1: signed ones, 0: anything else. */
static int int64_kind(const char *fmt, Py_ssize_t itemsize) {
    const char *code = native_code(fmt);
    if (!code || itemsize != 8) return 0;
    if (strcmp(code, "Q") == 0 || strcmp(code, "L") == 0) return 1;
    if (strcmp(code, "q") == 0 || strcmp(code, "l") == 0) return -1;
    return 0;
}

/* "T{Q:a:Q:b:Q:c:}": a record of three unsigned 64-bit fields (numpy's structured dtype). */
static int is_u64_record(const char *fmt, Py_ssize_t itemsize) {
    if (itemsize != FIELDS * 8 || strncmp(fmt, "T{", 2) != 0) return 0;
    fmt += 2;
    for (int f = 0; f < FIELDS; f++) {
        fmt = native_code(fmt);
        if (!fmt || (*fmt != 'Q' && *fmt != 'L')) return 0;
        if (*++fmt != ':') return 0;
        const char *end = strchr(fmt + 1, ':');
        if (!end) return 0;
        fmt = end + 1;
    }
    return strcmp(fmt, "}") == 0;
}

static PyObject *layout_error(const Py_buffer *b, const char *why) {
    PyErr_Format(PyExc_ValueError,
                 "a descriptor table must be a C-contiguous N x 3 uint64 buffer (numpy (N, 3) "
                 "uint64, a structured array of three uint64 fields, array('Q') of 3N items): "
                 "%s (format '%s', ndim %d, %zd bytes)",
                 why, b->format ? b->format : "B", b->ndim, b->len);
    return NULL;
}

/* table(obj): a buffer laid out as N x 3 uint64, used in place. */
static PyObject *fastdesc_table(PyObject *self, PyObject *obj) {
    (void)self;
    PyObject *view = PyMemoryView_FromObject(obj);
    if (!view) return NULL;
    const Py_buffer *b = PyMemoryView_GET_BUFFER(view);
    const char *fmt = b->format ? b->format : "B";
    const char *why = NULL;
    if (!PyBuffer_IsContiguous(b, 'C')) {
        why = "it is not contiguous";
    } else if (is_u64_record(fmt, b->itemsize)) {
        if (b->ndim != 1) why = "a record table must be one-dimensional";
    } else if (int64_kind(fmt, b->itemsize) != 1) {
        why = "its items are not unsigned 64-bit integers";
    } else if (b->ndim == 2) {
        if (b->shape[1] != FIELDS) why = "its second dimension is not 3";
    } else if (b->ndim != 1) {
        why = "it has neither 1 nor 2 dimensions";
    } else if (b->shape[0] % FIELDS != 0) {
        why = "its length is not a multiple of 3";
    }
    if (why) {
        layout_error(b, why);
        Py_DECREF(view);
        return NULL;
    }
    return table_result(view, b->buf, b->len / (FIELDS * 8));
}

/* One column of pack3: a contiguous 8-byte integer buffer read in place, or any sequence. */
static int column_values(PyObject *obj, int field, uint64_t *words, Py_ssize_t count) {
    if (PyObject_CheckBuffer(obj) && !PyBytes_Check(obj) && !PyByteArray_Check(obj)) {
        Py_buffer b;
        if (PyObject_GetBuffer(obj, &b, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) == 0) {
            int kind = int64_kind(b.format ? b.format : "B", b.itemsize);
            if (kind != 0 && b.len / 8 == count) {
                const uint64_t *src = b.buf;
                for (Py_ssize_t i = 0; i < count; i++) {
                    if (kind < 0 && (int64_t)src[i] < 0) {
                        PyBuffer_Release(&b);
                        PyErr_Format(PyExc_ValueError, "descriptor %zd: the %s is negative", i,
                                     field_names[field]);
                        return -1;
                    }
                    words[i * FIELDS + field] = src[i];
                }
                PyBuffer_Release(&b);
                return 0;
            }
            PyBuffer_Release(&b);
        }
        PyErr_Clear(); /* not one of those: read it as a sequence below */
    }
    PyObject *seq = PySequence_Fast(obj, "local_addrs, remote_addrs and lengths must be "
                                         "integer sequences");
    if (!seq) return -1;
    for (Py_ssize_t i = 0; i < count; i++) {
        if (sequence_changed(seq, count) != 0) {
            Py_DECREF(seq);
            return -1;
        }
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        Py_INCREF(item);
        int rc = field_value(item, i, field, &words[i * FIELDS + field]);
        Py_DECREF(item);
        if (rc != 0) {
            Py_DECREF(seq);
            return -1;
        }
    }
    Py_DECREF(seq);
    return 0;
}

/* pack3(locals, remotes, lengths): three equal-length integer sequences or arrays. */
static PyObject *fastdesc_pack3(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != FIELDS) {
        PyErr_SetString(PyExc_TypeError, "pack3(local_addrs, remote_addrs, lengths)");
        return NULL;
    }
    Py_ssize_t lens[FIELDS];
    for (int f = 0; f < FIELDS; f++) {
        lens[f] = PyObject_Length(args[f]);
        if (lens[f] < 0) return NULL;
    }
    if (lens[0] != lens[1] || lens[0] != lens[2]) {
        PyErr_Format(PyExc_ValueError,
                     "local_addrs, remote_addrs and lengths must have the same length "
                     "(got %zd, %zd, %zd)",
                     lens[0], lens[1], lens[2]);
        return NULL;
    }
    uint64_t *words = NULL;
    PyObject *table = new_table(lens[0], &words);
    if (!table) return NULL;
    for (int f = 0; f < FIELDS; f++) {
        if (column_values(args[f], f, words, lens[0]) != 0) {
            Py_DECREF(table);
            return NULL;
        }
    }
    return table_result(table, words, lens[0]);
}

/* batch(descs): a list or tuple of triples is packed, any other buffer used as a table, any
 * other iterable packed. */
static PyObject *fastdesc_batch(PyObject *self, PyObject *descs) {
    if (!PyList_Check(descs) && !PyTuple_Check(descs) && PyObject_CheckBuffer(descs))
        return fastdesc_table(self, descs);
    return fastdesc_pack(self, descs);
}

static PyMethodDef fastdesc_methods[] = {
    {"batch", fastdesc_batch, METH_O,
     "batch(descs) -> (address, count, keepalive): pack() or table(), by the type of descs"},
    {"pack", fastdesc_pack, METH_O,
     "pack(descs) -> (address, count, keepalive): [(local, remote, length), ...] packed"},
    {"table", fastdesc_table, METH_O,
     "table(obj) -> (address, count, keepalive): an N x 3 uint64 buffer, used in place"},
    {"pack3", (PyCFunction)(void (*)(void))fastdesc_pack3, METH_FASTCALL,
     "pack3(local_addrs, remote_addrs, lengths) -> (address, count, keepalive)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef fastdesc_module = {
    PyModuleDef_HEAD_INIT,
    "adxl._fastdesc",
    "Descriptor batches packed into adxl_transfer_op_desc_t tables in compiled code.",
    -1,
    fastdesc_methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__fastdesc(void);
PyMODINIT_FUNC PyInit__fastdesc(void) {
    return PyModule_Create(&fastdesc_module);
}
