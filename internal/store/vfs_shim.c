// Roost's VFS shim: a thin layer over SQLite's "unix" VFS. See vfs.go.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "vfs_shim.h"
#include "_cgo_export.h"

#define RC_OK 0
#define RC_CANTOPEN 14
#define RC_FULL 13
#define RC_IOERR_FSYNC (10 | (4 << 8))
#define OPEN_WAL 0x00080000
#define OPEN_CREATE 0x00000004
#define OP_WRITE 1
#define OP_SYNC 2

typedef struct RoostVfs {
	sqlite3_vfs base;
	sqlite3_vfs *real;
	char *root;
	size_t rootLen;
	uintptr_t faults;
	int undoWal;
	char name[64];
} RoostVfs;

typedef struct RoostFile {
	sqlite3_file base;
	RoostVfs *vfs;
	const char *name;
	int isWal;
	sqlite3_int64 dirtyFrom; // lowest offset written since the last good sync, or -1
	sqlite3_file *real;      // the unix file, right after this struct
} RoostFile;

static sqlite3_file *R(sqlite3_file *f) { return ((RoostFile *)f)->real; }

static int fault(RoostFile *f, int op) {
	if (f->vfs->faults == 0) return 0;
	return roostFault(f->vfs->faults, op, (char *)f->name);
}

static int xClose(sqlite3_file *f) {
	sqlite3_file *r = R(f);
	int rc = r->pMethods ? r->pMethods->xClose(r) : RC_OK;
	return rc;
}
static int xRead(sqlite3_file *f, void *p, int n, sqlite3_int64 off) { return R(f)->pMethods->xRead(R(f), p, n, off); }

static int xWrite(sqlite3_file *f, const void *p, int n, sqlite3_int64 off) {
	RoostFile *rf = (RoostFile *)f;
	if (fault(rf, OP_WRITE)) return RC_FULL;
	int rc = R(f)->pMethods->xWrite(R(f), p, n, off);
	if (rc == RC_OK && (rf->dirtyFrom < 0 || off < rf->dirtyFrom)) rf->dirtyFrom = off;
	return rc;
}

static int xTruncate(sqlite3_file *f, sqlite3_int64 size) {
	RoostFile *rf = (RoostFile *)f;
	int rc = R(f)->pMethods->xTruncate(R(f), size);
	if (rc == RC_OK && rf->dirtyFrom > size) rf->dirtyFrom = size;
	return rc;
}

// xSync: when the sync of a WAL fails, SQLite reports the commit as failed,
// so its frames must never be found by recovery after a restart: cut the
// file back to where it was at the last good sync.
static int xSync(sqlite3_file *f, int flags) {
	RoostFile *rf = (RoostFile *)f;
	int rc = fault(rf, OP_SYNC) ? RC_IOERR_FSYNC : R(f)->pMethods->xSync(R(f), flags);
	if (rc == RC_OK) {
		rf->dirtyFrom = -1;
		return rc;
	}
	if (rf->isWal && rf->vfs->undoWal && rf->dirtyFrom >= 0) {
		if (R(f)->pMethods->xTruncate(R(f), rf->dirtyFrom) == RC_OK) {
			R(f)->pMethods->xSync(R(f), flags); // best effort: the disk already failed once
		}
	}
	return rc;
}

static int xFileSize(sqlite3_file *f, sqlite3_int64 *s) { return R(f)->pMethods->xFileSize(R(f), s); }
static int xLock(sqlite3_file *f, int l) { return R(f)->pMethods->xLock(R(f), l); }
static int xUnlock(sqlite3_file *f, int l) { return R(f)->pMethods->xUnlock(R(f), l); }
static int xCheckReservedLock(sqlite3_file *f, int *o) { return R(f)->pMethods->xCheckReservedLock(R(f), o); }
static int xFileControl(sqlite3_file *f, int op, void *a) { return R(f)->pMethods->xFileControl(R(f), op, a); }
static int xSectorSize(sqlite3_file *f) { return R(f)->pMethods->xSectorSize(R(f)); }
static int xDeviceCharacteristics(sqlite3_file *f) { return R(f)->pMethods->xDeviceCharacteristics(R(f)); }
static int xShmMap(sqlite3_file *f, int pg, int sz, int e, void volatile **pp) { return R(f)->pMethods->xShmMap(R(f), pg, sz, e, pp); }
static int xShmLock(sqlite3_file *f, int o, int n, int fl) { return R(f)->pMethods->xShmLock(R(f), o, n, fl); }
static void xShmBarrier(sqlite3_file *f) { R(f)->pMethods->xShmBarrier(R(f)); }
static int xShmUnmap(sqlite3_file *f, int d) { return R(f)->pMethods->xShmUnmap(R(f), d); }
static int xFetch(sqlite3_file *f, sqlite3_int64 o, int n, void **pp) { return R(f)->pMethods->xFetch(R(f), o, n, pp); }
static int xUnfetch(sqlite3_file *f, sqlite3_int64 o, void *p) { return R(f)->pMethods->xUnfetch(R(f), o, p); }

static const sqlite3_io_methods methods = {
	3, xClose, xRead, xWrite, xTruncate, xSync, xFileSize, xLock, xUnlock, xCheckReservedLock,
	xFileControl, xSectorSize, xDeviceCharacteristics, xShmMap, xShmLock, xShmBarrier, xShmUnmap,
	xFetch, xUnfetch,
};

// beneath reports whether path is inside the data directory. SQLite passes
// full paths made by the unix VFS's xFullPathname, which resolves symlinks.
static int beneath(RoostVfs *v, const char *path) {
	return path && strncmp(path, v->root, v->rootLen) == 0 && path[v->rootLen] == '/' &&
	       strstr(path + v->rootLen, "/../") == NULL;
}

static int vOpen(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *outFlags) {
	RoostVfs *v = (RoostVfs *)vfs;
	RoostFile *rf = (RoostFile *)f;
	memset(rf, 0, sizeof(*rf));
	rf->real = (sqlite3_file *)(rf + 1);
	if (name && !beneath(v, name)) return RC_CANTOPEN; // anonymous temp files have no name
	// The unix VFS syncs the directory on the first sync of every WAL it
	// opens with SQLITE_OPEN_CREATE, even one that already exists: an fsync
	// per activation. A WAL that exists needs no new directory entry.
	if ((flags & OPEN_WAL) && name && access(name, F_OK) == 0) flags &= ~OPEN_CREATE;
	int rc = v->real->xOpen(v->real, name, rf->real, flags, outFlags);
	if (rc != RC_OK || rf->real->pMethods == NULL) return rc;
	rf->vfs = v;
	rf->name = name;
	rf->isWal = (flags & OPEN_WAL) != 0;
	rf->dirtyFrom = -1;
	rf->base.pMethods = &methods;
	return RC_OK;
}

static int vDelete(sqlite3_vfs *vfs, const char *name, int syncDir) {
	RoostVfs *v = (RoostVfs *)vfs;
	if (!beneath(v, name)) return RC_CANTOPEN;
	return v->real->xDelete(v->real, name, syncDir);
}

static int vAccess(sqlite3_vfs *vfs, const char *name, int flags, int *out) {
	RoostVfs *v = (RoostVfs *)vfs;
	return v->real->xAccess(v->real, name, flags, out);
}

static int vFullPathname(sqlite3_vfs *vfs, const char *name, int n, char *out) {
	RoostVfs *v = (RoostVfs *)vfs;
	return v->real->xFullPathname(v->real, name, n, out);
}

sqlite3_vfs *roost_vfs_new(const char *name, const char *root, uintptr_t faults, int undo_wal) {
	sqlite3_vfs *real = sqlite3_vfs_find("unix");
	if (!real || strlen(name) >= sizeof(((RoostVfs *)0)->name)) return NULL;
	RoostVfs *v = calloc(1, sizeof(RoostVfs));
	if (!v) return NULL;
	memcpy(&v->base, real, sizeof(sqlite3_vfs));
	strcpy(v->name, name);
	v->base.zName = v->name;
	v->base.szOsFile = (int)sizeof(RoostFile) + real->szOsFile;
	v->base.pNext = NULL;
	v->base.xOpen = vOpen;
	v->base.xDelete = vDelete;
	v->base.xAccess = vAccess;
	v->base.xFullPathname = vFullPathname;
	v->real = real;
	v->root = strdup(root);
	v->rootLen = strlen(root);
	v->faults = faults;
	v->undoWal = undo_wal;
	if (!v->root || sqlite3_vfs_register(&v->base, 0) != RC_OK) {
		free(v->root);
		free(v);
		return NULL;
	}
	return &v->base;
}

void roost_vfs_free(sqlite3_vfs *vfs) {
	RoostVfs *v = (RoostVfs *)vfs;
	sqlite3_vfs_unregister(vfs);
	free(v->root);
	free(v);
}

extern int sqlite3_db_config(void *, int op, ...);
extern int sqlite3_set_authorizer(void *, int (*)(void *, int, const char *, const char *, const char *, const char *), void *);

static int authorizer(void *h, int action, const char *a, const char *b, const char *db, const char *inner) {
	return roostAuthorize((uintptr_t)h, action, (char *)a, (char *)b, (char *)db, (char *)inner);
}

int roost_db_configure(void *db, uintptr_t auth) {
	int rc = sqlite3_db_config(db, 1010 /* SQLITE_DBCONFIG_DEFENSIVE */, 1, (int *)0);
	if (rc != RC_OK) return rc;
	rc = sqlite3_db_config(db, 1006 /* SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE */, 1, (int *)0);
	if (rc != RC_OK) return rc;
	return sqlite3_set_authorizer(db, authorizer, (void *)auth);
}
