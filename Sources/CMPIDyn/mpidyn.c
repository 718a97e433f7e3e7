// Calls into a dlopen()ed Open MPI; see CMPIDyn.h for why there is no mpi.h here.
#include "CMPIDyn.h"
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void *H;  // MPI_Comm, MPI_Datatype, MPI_Op, MPI_Request: pointers in Open MPI

static struct {
    void *lib;
    H comm_world, types[4], ops[3];
    int (*Init_thread)(int *, char ***, int, int *);
    int (*Finalize)(void);
    int (*Abort)(H, int);
    int (*Comm_rank)(H, int *);
    int (*Comm_size)(H, int *);
    int (*Get_library_version)(char *, int *);
    int (*Error_string)(int, char *, int *);
    int (*Iallreduce)(const void *, void *, int, H, H, H, H *);
    int (*Iallgatherv)(const void *, int, H, void *, const int *, const int *, H, H, H *);
    int (*Ireduce_scatter)(const void *, void *, const int *, H, H, H, H *);
    int (*Ibcast)(void *, int, H, int, H, H *);
    int (*Ibarrier)(H, H *);
    int (*Test)(H *, int *, void *);
} M;

#define IN_PLACE ((void *)1)
#define STATUS_IGNORE ((void *)0)

int nm_mpi_launcher(void) {
    if (getenv("OMPI_COMM_WORLD_SIZE")) return 1;
    if (getenv("PMIX_RANK")) return 2;
    if (getenv("PMI_RANK") || getenv("PMI_SIZE")) return 3;
    return 0;
}

#define SYM(field, name) do { *(void **)&M.field = dlsym(M.lib, name); \
    if (!M.field) { snprintf(err, errlen, "%s has no symbol %s", path, name); goto fail; } } while (0)

int nm_mpi_load(const char *path, char *err, size_t errlen) {
    if (M.lib) return 0;
    if (!path) path = getenv("NOREMBED_MPI_LIB");
    if (!path || !*path) path = "libmpi.so.40";
    // RTLD_GLOBAL: Open MPI's plugins (mca_*.so) resolve libmpi's symbols from the global scope.
    M.lib = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (!M.lib) { snprintf(err, errlen, "%s", dlerror()); return -1; }
    SYM(Get_library_version, "MPI_Get_library_version");
    char version[8192] = {0};
    int n = 0;
    M.Get_library_version(version, &n);
    if (strncmp(version, "Open MPI", 8) != 0) {
        snprintf(err, errlen, "%s is not Open MPI (%.80s): only Open MPI's ABI is supported", path, version);
        goto fail;
    }
    SYM(comm_world, "ompi_mpi_comm_world");
    SYM(types[NM_FLOAT], "ompi_mpi_float");
    SYM(types[NM_DOUBLE], "ompi_mpi_double");
    SYM(types[NM_INT], "ompi_mpi_int");
    SYM(types[NM_BYTE], "ompi_mpi_byte");
    SYM(ops[NM_SUM], "ompi_mpi_op_sum");
    SYM(ops[NM_MAX], "ompi_mpi_op_max");
    SYM(ops[NM_MIN], "ompi_mpi_op_min");
    SYM(Init_thread, "MPI_Init_thread");
    SYM(Finalize, "MPI_Finalize");
    SYM(Abort, "MPI_Abort");
    SYM(Comm_rank, "MPI_Comm_rank");
    SYM(Comm_size, "MPI_Comm_size");
    SYM(Error_string, "MPI_Error_string");
    SYM(Iallreduce, "MPI_Iallreduce");
    SYM(Iallgatherv, "MPI_Iallgatherv");
    SYM(Ireduce_scatter, "MPI_Ireduce_scatter");
    SYM(Ibcast, "MPI_Ibcast");
    SYM(Ibarrier, "MPI_Ibarrier");
    SYM(Test, "MPI_Test");
    return 0;
fail:
    dlclose(M.lib);
    M.lib = NULL;
    return -1;
}

int nm_mpi_init_thread(int required, int *provided) { return M.Init_thread(NULL, NULL, required, provided); }
int nm_mpi_finalize(void) { return M.Finalize(); }
int nm_mpi_abort(int code) { return M.Abort(M.comm_world, code); }
int nm_mpi_rank(void) { int r = -1; M.Comm_rank(M.comm_world, &r); return r; }
int nm_mpi_size(void) { int s = -1; M.Comm_size(M.comm_world, &s); return s; }

int nm_mpi_library_version(char *buf, int len) {
    char tmp[8192] = {0};  // MPI_MAX_LIBRARY_VERSION_STRING: 256 in Open MPI, 8192 in MPICH
    int n = 0;
    int rc = M.Get_library_version(tmp, &n);
    snprintf(buf, len, "%s", tmp);
    return rc;
}

void nm_mpi_error_string(int code, char *buf, int len) {
    char tmp[1024] = {0};  // MPI_MAX_ERROR_STRING is 256
    int n = 0;
    if (M.Error_string(code, tmp, &n) != 0) snprintf(tmp, sizeof tmp, "MPI error %d", code);
    snprintf(buf, len, "%s", tmp);
}

int nm_mpi_iallreduce(const void *send, void *recv, int count, int type, int op, void **request) {
    return M.Iallreduce(send ? send : IN_PLACE, recv, count, M.types[type], M.ops[op], M.comm_world, request);
}
int nm_mpi_iallgatherv(const void *send, int sendcount, void *recv, const int *counts, const int *displs, int type,
                       void **request) {
    return M.Iallgatherv(send, sendcount, M.types[type], recv, counts, displs, M.types[type], M.comm_world, request);
}
int nm_mpi_ireduce_scatter(const void *send, void *recv, const int *recvcounts, int type, int op, void **request) {
    return M.Ireduce_scatter(send, recv, recvcounts, M.types[type], M.ops[op], M.comm_world, request);
}
int nm_mpi_ibcast(void *buf, int count, int type, int root, void **request) {
    return M.Ibcast(buf, count, M.types[type], root, M.comm_world, request);
}
int nm_mpi_ibarrier(void **request) { return M.Ibarrier(M.comm_world, request); }
int nm_mpi_test(void **request, int *flag) { return M.Test(request, flag, STATUS_IGNORE); }
