int itkCudaFFTConvolutionPlannerTest(int, char *[]) { return 0; }
