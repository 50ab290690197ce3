// Placeholder until the config reader lands.
#include "model/config.h"
