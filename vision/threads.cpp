// OpenCV's own worker threads (see threads.go).
#include <opencv2/core.hpp>

extern "C" void vision_cv_threads(int n) { cv::setNumThreads(n); }
