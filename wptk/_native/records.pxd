from libc.stdint cimport int32_t, uint8_t

cdef size_t record_bound(size_t L, size_t P) noexcept nogil
cdef size_t example_record_size(const int32_t* ids, size_t n, const int32_t* pos, const int32_t* mid,
                                size_t count, int32_t nsp, size_t L, size_t P) noexcept nogil
cdef uint8_t* put_example_record(uint8_t* rec, const int32_t* ids, size_t n, size_t a, const int32_t* pos,
                                 const int32_t* mid, size_t count, int32_t nsp, size_t L,
                                 size_t P) noexcept nogil
