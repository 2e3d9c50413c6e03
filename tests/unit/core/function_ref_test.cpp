#include "core/function_ref.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace iogate::core {
namespace {

int apply(FunctionRef<int(int)> f, int value) { return f(value); }

int twice(int value) { return 2 * value; }

TEST(FunctionRef, CallsLambdaWithState) {
  int calls = 0;
  auto add_one = [&calls](int value) {
    ++calls;
    return value + 1;
  };
  EXPECT_EQ(apply(add_one, 41), 42);
  EXPECT_EQ(apply(add_one, 1), 2);
  EXPECT_EQ(calls, 2);
}

TEST(FunctionRef, CallsFunctionPointerAndTemporary) {
  EXPECT_EQ(apply(&twice, 21), 42);
  EXPECT_EQ(apply([](int value) { return -value; }, 5), -5);
}

TEST(FunctionRef, ReferencesTheCallableWithoutCopyingIt) {
  struct Counter {
    int count = 0;
    void operator()() { ++count; }
  } counter;
  const FunctionRef<void()> ref(counter);
  ref();
  ref();
  EXPECT_EQ(counter.count, 2);
}

TEST(FunctionRef, ForwardsMoveOnlyArguments) {
  auto take = [](std::unique_ptr<std::string> s) { return *s + "!"; };
  const FunctionRef<std::string(std::unique_ptr<std::string>)> ref(take);
  EXPECT_EQ(ref(std::make_unique<std::string>("hi")), "hi!");
}

TEST(FunctionRef, CopiesReferToTheSameCallable) {
  int calls = 0;
  auto bump = [&calls] { ++calls; };
  const FunctionRef<void()> ref(bump);
  const FunctionRef<void()> copy = ref;
  copy();
  ref();
  EXPECT_EQ(calls, 2);
}

}  // namespace
}  // namespace iogate::core
