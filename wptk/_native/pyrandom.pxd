from wptk._native.mt19937 cimport MT


cdef class CompatRandom:
    cdef MT _s
    cpdef double random(self)
