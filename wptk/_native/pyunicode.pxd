# Direct access to a str's code points (PEP 393 storage), for loops that run without the GIL.
from libc.stdint cimport uint32_t

cdef extern from "Python.h":
    int PyUnicode_READY(object) except -1
    int PyUnicode_KIND(object)
    void* PyUnicode_DATA(object)
    Py_ssize_t PyUnicode_GET_LENGTH(object)
    uint32_t PyUnicode_READ(int kind, void* data, Py_ssize_t i) nogil
