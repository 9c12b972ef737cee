// Module entry: context-aware (NODE_API_MODULE), so it loads in every
// worker_thread; per-environment state lives in napi instance data.
#include "pagewise.h"

namespace pagewise {

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InitRegion(env, exports);
  InitRegionCalls(env, exports);
  InitRegionShare(env, exports);
  InitRegionResize(env, exports);
  InitMapLimit(env, exports);
  InitMman(env, exports);
  InitBrk(env, exports);
  InitResources(env, exports);
  InitConstants(env, exports);
  InitMeasure(env, exports);
  InitShared(env, exports);
  InitRegionDiscard(env, exports);
  InitGiveBack(env, exports);
  InitProcessMadvise(env, exports);
  InitPagemapScan(env, exports);
  InitProcmapQuery(env, exports);
  InitPrctl(env, exports);
  InitSmapsScan(env, exports);
  return exports;
}

}  // namespace pagewise

static Napi::Object InitPagewise(Napi::Env env, Napi::Object exports) {
  return pagewise::Init(env, exports);
}

NODE_API_MODULE(pagewise, InitPagewise)
