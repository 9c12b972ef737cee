// (filled by its issue)
#include "pagewise.h"

namespace pagewise {

void InitProbe(Napi::Env, Napi::Object) {}

}  // namespace pagewise
