{
  "targets": [
    {
      # Linux TUN device + network-namespace switching for synack (device/tun/).
      # Built by `npm install` through the root package.json "install": "node-gyp rebuild".
      "target_name": "synack_tun",
      "sources": ["device/tun/tun.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17"
      }
    },
    {
      # The kernel-side listener of `synack bench`'s connects benchmark (src/bench/listener.c):
      # an epoll/accept4 loop fast enough that the client stack, not the listener, is measured.
      "target_name": "synack_bench_listener",
      "type": "executable",
      "sources": ["src/bench/listener.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
