#include <doctest/doctest.h>
// placeholder: filled in a following commit
