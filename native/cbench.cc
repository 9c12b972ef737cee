// (filled by its issue)
#include "pagewise.h"

namespace pagewise {

void InitCBench(Napi::Env, Napi::Object) {}

}  // namespace pagewise
