// (filled by its issue)
#include "pagewise.h"

namespace pagewise {

void InitMeasure(Napi::Env, Napi::Object) {}

}  // namespace pagewise
