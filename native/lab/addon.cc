// Lab module entry (pagewise_lab.node): see lab.h. Context-aware like the
// core (NODE_API_MODULE), so it loads in worker threads too.
#include "lab.h"

static Napi::Object InitPagewiseLab(Napi::Env env, Napi::Object exports) {
  pagewise::lab::InitCBench(env, exports);
  pagewise::lab::InitForkProbe(env, exports);
  return exports;
}

NODE_API_MODULE(pagewise_lab, InitPagewiseLab)
