{
  "targets": [
    {
      "target_name": "pagewise",
      "sources": [
        "native/addon.cc",
        "native/errors.cc",
        "native/region.cc",
        "native/region-calls.cc",
        "native/region-share.cc",
        "native/region-resize.cc",
        "native/maplimit.cc",
        "native/mman.cc",
        "native/brk.cc",
        "native/resources.cc",
        "native/constants.cc",
        "native/measure.cc",
        "native/shared.cc",
        "native/region-discard.cc",
        "native/giveback.cc",
        "native/process-madvise.cc",
        "native/pagemap-scan.cc",
        "native/procmap-query.cc",
        "native/prctl.cc",
        "native/smaps-scan.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED", "_GNU_SOURCE"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=gnu++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    },
    {
      "target_name": "pagewise_lab",
      "sources": [
        "native/lab/addon.cc",
        "native/lab/cbench.cc",
        "native/lab/cbench-proc.cc",
        "native/lab/fork_probe.cc",
        "native/errors.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED", "_GNU_SOURCE"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=gnu++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    },
    {
      "target_name": "pagewise-probe",
      "type": "executable",
      "sources": ["native/lab/probe_exe.c"],
      "defines": ["_GNU_SOURCE"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
