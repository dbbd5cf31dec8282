/* bd_winapi_compat.h: the Windows names the win32 platform needs that mingw-w64 10 (Debian
 * 12) lacks or gets wrong.  Every constant is guarded with #ifndef so newer SDKs (mingw 15,
 * MSVC) keep their own definitions; structs and NT entry points get bd_-prefixed names of
 * their own, since a struct cannot be guarded by name.  Values: Microsoft's headers and
 * [MS-FSCC] (see shared/reference/native-apis.md, Appendix A).
 */
#ifndef BODEGA_BD_WINAPI_COMPAT_H
#define BODEGA_BD_WINAPI_COMPAT_H

#include <windows.h>
#include <winioctl.h>

/* ---- control codes ------------------------------------------------------------------- */
#ifndef FSCTL_DUPLICATE_EXTENTS_TO_FILE
#define FSCTL_DUPLICATE_EXTENTS_TO_FILE 0x00098344
#endif
#ifndef FSCTL_GET_INTEGRITY_INFORMATION
#define FSCTL_GET_INTEGRITY_INFORMATION 0x0009027C
#endif
#ifndef FSCTL_SET_INTEGRITY_INFORMATION
#define FSCTL_SET_INTEGRITY_INFORMATION 0x0009C280
#endif
#ifndef FSCTL_SET_SPARSE
#define FSCTL_SET_SPARSE 0x000900C4
#endif
#ifndef FSCTL_GET_REPARSE_POINT
#define FSCTL_GET_REPARSE_POINT 0x000900A8
#endif
#ifndef FSCTL_SET_REPARSE_POINT
#define FSCTL_SET_REPARSE_POINT 0x000900A4
#endif

/* ---- volume, attribute and reparse flags ---------------------------------------------- */
#ifndef FILE_SUPPORTS_BLOCK_REFCOUNTING
#define FILE_SUPPORTS_BLOCK_REFCOUNTING 0x08000000
#endif
#ifndef FILE_ATTRIBUTE_INTEGRITY_STREAM
#define FILE_ATTRIBUTE_INTEGRITY_STREAM 0x00008000
#endif
#ifndef IO_REPARSE_TAG_SYMLINK
#define IO_REPARSE_TAG_SYMLINK 0xA000000CUL
#endif
#ifndef IO_REPARSE_TAG_MOUNT_POINT
#define IO_REPARSE_TAG_MOUNT_POINT 0xA0000003UL
#endif
#ifndef IO_REPARSE_TAG_LX_SYMLINK
#define IO_REPARSE_TAG_LX_SYMLINK 0xA000001DUL
#endif
#ifndef IO_REPARSE_TAG_DEDUP
#define IO_REPARSE_TAG_DEDUP 0x80000013UL
#endif
#ifndef IO_REPARSE_TAG_WOF
#define IO_REPARSE_TAG_WOF 0x80000017UL
#endif
#ifndef SYMLINK_FLAG_RELATIVE
#define SYMLINK_FLAG_RELATIVE 0x1
#endif
#ifndef MAXIMUM_REPARSE_DATA_BUFFER_SIZE
#define MAXIMUM_REPARSE_DATA_BUFFER_SIZE 16384
#endif
#ifndef COPY_FILE_COPY_SYMLINK
#define COPY_FILE_COPY_SYMLINK 0x00000800
#endif
#ifndef SE_CREATE_SYMBOLIC_LINK_NAME
#define SE_CREATE_SYMBOLIC_LINK_NAME L"SeCreateSymbolicLinkPrivilege"
#endif

/* ---- Win32 errors missing from mingw10 winerror.h ------------------------------------- */
#ifndef ERROR_BLOCK_TOO_MANY_REFERENCES
#define ERROR_BLOCK_TOO_MANY_REFERENCES 347L
#endif
#ifndef ERROR_NOT_CAPABLE
#define ERROR_NOT_CAPABLE 775L
#endif
#ifndef ERROR_STOPPED_ON_SYMLINK
#define ERROR_STOPPED_ON_SYMLINK 681L
#endif
#ifndef ERROR_REPARSE_POINT_ENCOUNTERED
#define ERROR_REPARSE_POINT_ENCOUNTERED 4395L
#endif
#ifndef ERROR_NOT_A_REPARSE_POINT
#define ERROR_NOT_A_REPARSE_POINT 4390L
#endif
#ifndef ERROR_REQUEST_ABORTED
#define ERROR_REQUEST_ABORTED 1235L
#endif
#ifndef ERROR_CANT_RESOLVE_FILENAME
#define ERROR_CANT_RESOLVE_FILENAME 1921L
#endif

/* ---- NTSTATUS values (ntstatus.h clashes with winnt.h, so define the few we test) -------- */
#define BD_STATUS_SUCCESS                   ((LONG)0x00000000L)
#define BD_STATUS_INVALID_PARAMETER         ((LONG)0xC000000DL)
#define BD_STATUS_INVALID_INFO_CLASS        ((LONG)0xC0000003L)
#define BD_STATUS_NOT_SUPPORTED             ((LONG)0xC00000BBL)
#define BD_STATUS_NOT_IMPLEMENTED           ((LONG)0xC0000002L)
#define BD_STATUS_REPARSE_POINT_ENCOUNTERED ((LONG)0xC000050BL)
#define BD_STATUS_CANNOT_DELETE             ((LONG)0xC0000121L)

/* ---- NT create options and object attributes ------------------------------------------- */
#ifndef OBJ_CASE_INSENSITIVE
#define OBJ_CASE_INSENSITIVE 0x00000040L
#endif
#ifndef OBJ_DONT_REPARSE
#define OBJ_DONT_REPARSE 0x00001000L
#endif
#define BD_FILE_OPEN               0x00000001
#define BD_FILE_CREATE             0x00000002
#define BD_FILE_OVERWRITE_IF       0x00000005
#define BD_FILE_DIRECTORY_FILE     0x00000001
#define BD_FILE_SEQUENTIAL_ONLY    0x00000004
#define BD_FILE_SYNCHRONOUS_IO_NONALERT 0x00000020
#define BD_FILE_NON_DIRECTORY_FILE 0x00000040
#define BD_FILE_OPEN_FOR_BACKUP_INTENT 0x00004000
#define BD_FILE_OPEN_REPARSE_POINT 0x00200000

/* ---- information classes, by number (mingw10's enum is off by two past 20) ------------- */
/* FILE_INFO_BY_HANDLE_CLASS (GetFileInformationByHandleEx / SetFileInformationByHandle) */
#define BD_FileBasicInfo                    0
#define BD_FileStandardInfo                 1
#define BD_FileDispositionInfo              4
#define BD_FileEndOfFileInfo                6
#define BD_FileStreamInfo                   7
#define BD_FileAttributeTagInfo             9
#define BD_FileIdBothDirectoryInfo          10
#define BD_FileIdBothDirectoryRestartInfo   11
#define BD_FileIdInfo                       18
#define BD_FileIdExtdDirectoryInfo          19
#define BD_FileIdExtdDirectoryRestartInfo   20
/* FILE_INFORMATION_CLASS (NtSetInformationFile / NtQueryInformationByName) */
#define BD_FileRenameInformation            10
#define BD_FileLinkInformation              11
#define BD_FileDispositionInformation       13
#define BD_FileDispositionInformationEx     64
#define BD_FileStatInformation              68

#define BD_FILE_DISPOSITION_DELETE                    0x00000001
#define BD_FILE_DISPOSITION_POSIX_SEMANTICS           0x00000002
#define BD_FILE_DISPOSITION_IGNORE_READONLY_ATTRIBUTE 0x00000010

/* ---- NT structures ---------------------------------------------------------------------- */
typedef struct bd_unicode_string {
    USHORT Length;          /* bytes, no NUL */
    USHORT MaximumLength;
    PWSTR  Buffer;
} bd_unicode_string;

typedef struct bd_object_attributes {
    ULONG Length;
    HANDLE RootDirectory;
    bd_unicode_string *ObjectName;
    ULONG Attributes;
    PVOID SecurityDescriptor;
    PVOID SecurityQualityOfService;
} bd_object_attributes;

typedef struct bd_io_status_block {
    union { LONG Status; PVOID Pointer; } u;
    ULONG_PTR Information;
} bd_io_status_block;

/* FILE_RENAME_INFORMATION and FILE_LINK_INFORMATION share this layout. */
typedef struct bd_file_name_information {
    BOOLEAN ReplaceIfExists;
    HANDLE  RootDirectory;
    ULONG   FileNameLength;  /* bytes */
    WCHAR   FileName[1];
} bd_file_name_information;

typedef struct bd_file_stat_information {
    LARGE_INTEGER FileId;
    LARGE_INTEGER CreationTime, LastAccessTime, LastWriteTime, ChangeTime;
    LARGE_INTEGER AllocationSize, EndOfFile;
    ULONG FileAttributes;
    ULONG ReparseTag;
    ULONG NumberOfLinks;
    ACCESS_MASK EffectiveAccess;
} bd_file_stat_information;

/* DUPLICATE_EXTENTS_DATA: 32 bytes on x64/arm64. */
typedef struct bd_duplicate_extents_data {
    HANDLE FileHandle;
    LARGE_INTEGER SourceFileOffset;
    LARGE_INTEGER TargetFileOffset;
    LARGE_INTEGER ByteCount;
} bd_duplicate_extents_data;

/* FSCTL_GET_INTEGRITY_INFORMATION_BUFFER (16 bytes) and its SET counterpart (8 bytes):
 * declared by no mingw header. */
typedef struct bd_integrity_info {
    WORD  ChecksumAlgorithm;
    WORD  Reserved;
    DWORD Flags;
    DWORD ChecksumChunkSizeInBytes;
    DWORD ClusterSizeInBytes;
} bd_integrity_info;

typedef struct bd_set_integrity_info {
    WORD  ChecksumAlgorithm;
    WORD  Reserved;
    DWORD Flags;
} bd_set_integrity_info;

/* REPARSE_DATA_BUFFER (only in ntdef.h/ntifs.h, which windows.h users cannot include). */
typedef struct bd_reparse_buffer {
    ULONG  ReparseTag;
    USHORT ReparseDataLength;
    USHORT Reserved;
    union {
        struct {
            USHORT SubstituteNameOffset, SubstituteNameLength;
            USHORT PrintNameOffset, PrintNameLength;
            ULONG  Flags;
            WCHAR  PathBuffer[1];
        } SymbolicLink;
        struct {
            USHORT SubstituteNameOffset, SubstituteNameLength;
            USHORT PrintNameOffset, PrintNameLength;
            WCHAR  PathBuffer[1];
        } MountPoint;
        struct {
            ULONG Version;       /* IO_REPARSE_TAG_LX_SYMLINK: 2, then the UTF-8 target */
            char  Target[1];
        } LxSymlink;
        UCHAR Generic[1];
    } u;
} bd_reparse_buffer;

#define BD_REPARSE_HEADER_SIZE 8  /* ReparseTag + ReparseDataLength + Reserved */

/* ---- ntdll entry points, resolved with GetProcAddress (see ntdll.c) ---------------------- */
typedef LONG (NTAPI *bd_NtCreateFile_fn)(PHANDLE, ACCESS_MASK, bd_object_attributes *,
                                         bd_io_status_block *, PLARGE_INTEGER, ULONG, ULONG,
                                         ULONG, ULONG, PVOID, ULONG);
typedef LONG (NTAPI *bd_NtSetInformationFile_fn)(HANDLE, bd_io_status_block *, PVOID, ULONG, ULONG);
typedef LONG (NTAPI *bd_NtQueryInformationByName_fn)(bd_object_attributes *, bd_io_status_block *,
                                                     PVOID, ULONG, ULONG);
typedef ULONG (NTAPI *bd_RtlNtStatusToDosError_fn)(LONG);
typedef const char *(CDECL *bd_wine_get_version_fn)(void);

#endif
