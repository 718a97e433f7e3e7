#pragma once
// A minimal MPI binding that needs neither mpi.h nor libmpi to build: libmpi.so.40 is dlopen()ed at
// run time, and only when an MPI launcher started the process, so a plain `train` never loads MPI.
// Open MPI's ABI only (3.x-5.x, soname libmpi.so.40; checked with 4.1): handles are the addresses of
// the library's predefined globals, MPI_IN_PLACE is (void *)1, MPI_STATUS_IGNORE is NULL.
// nm_mpi_load refuses any other MPI (MPICH's handles are integers).
#include <stddef.h>

/// Which launcher started this process, from the environment alone: 0 none, 1 Open MPI's
/// mpirun/mpiexec (OMPI_COMM_WORLD_SIZE), 2 PMIx (PMIX_RANK: srun --mpi=pmix, prterun),
/// 3 PMI-1/PMI-2 (PMI_RANK/PMI_SIZE: srun --mpi=pmi2).
int nm_mpi_launcher(void);

/// dlopen(path, or $NOREMBED_MPI_LIB, or "libmpi.so.40") and resolve what follows; checks that the
/// library is Open MPI. 0 on success, else -1 with a message in err.
int nm_mpi_load(const char *path, char *err, size_t errlen);

/// MPI_THREAD_SINGLE 0, FUNNELED 1, SERIALIZED 2, MULTIPLE 3.
int nm_mpi_init_thread(int required, int *provided);
int nm_mpi_finalize(void);
int nm_mpi_abort(int code);
int nm_mpi_rank(void);
int nm_mpi_size(void);
/// MPI_Get_library_version into buf (NUL-terminated, truncated to len).
int nm_mpi_library_version(char *buf, int len);
/// MPI_Error_string into buf.
void nm_mpi_error_string(int code, char *buf, int len);

/// Element types and reduction operations of the calls below.
enum { NM_FLOAT = 0, NM_DOUBLE = 1, NM_INT = 2, NM_BYTE = 3 };
enum { NM_SUM = 0, NM_MAX = 1, NM_MIN = 2 };

/// Non-blocking collectives on MPI_COMM_WORLD; *request is an opaque MPI_Request, completed with
/// nm_mpi_test. send == NULL means in place. Counts are ints: callers split larger buffers.
int nm_mpi_iallreduce(const void *send, void *recv, int count, int type, int op, void **request);
int nm_mpi_iallgatherv(const void *send, int sendcount, void *recv, const int *counts, const int *displs, int type,
                       void **request);
int nm_mpi_ireduce_scatter(const void *send, void *recv, const int *recvcounts, int type, int op, void **request);
int nm_mpi_ibcast(void *buf, int count, int type, int root, void **request);
int nm_mpi_ibarrier(void **request);
/// MPI_Test: *flag = 1 when done (the request is then freed).
int nm_mpi_test(void **request, int *flag);
