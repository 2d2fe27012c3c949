# Direct access to a str's code points (PEP 393 storage), for loops that run without the GIL.
from cpython.object cimport PyObject
from libc.stdint cimport uint32_t

cdef extern from "Python.h":
    int PyUnicode_READY(object) except -1
    int PyUnicode_KIND(object)
    void* PyUnicode_DATA(object)
    Py_ssize_t PyUnicode_GET_LENGTH(object)
    uint32_t PyUnicode_READ(int kind, void* data, Py_ssize_t i) nogil

    # the same on borrowed references, for use without the GIL (the caller keeps the objects alive)
    PyObject* list_item "PyList_GET_ITEM"(PyObject* lst, Py_ssize_t i) nogil
    bint unicode_check "PyUnicode_Check"(PyObject* o) nogil
    bint unicode_is_ready "PyUnicode_IS_READY"(PyObject* o) nogil
    int unicode_kind "PyUnicode_KIND"(PyObject* o) nogil
    void* unicode_data "PyUnicode_DATA"(PyObject* o) nogil
    Py_ssize_t unicode_length "PyUnicode_GET_LENGTH"(PyObject* o) nogil
