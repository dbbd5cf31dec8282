from bodega._native.bd cimport bd_fault_plan

cdef bd_fault_plan *process_plan() noexcept
