"""Default configuration: every field `infogan_jax` reads, with its meaning.

Experiment configs (`configs/mnist.py`, ...) import this module and override a
few fields. Any field can also be overridden on the command line, for example
`--config.batch_size=64` or `--config.model.categorical_codes="(10, 10)"`.
"""

import ml_collections


def select_variant(variants: dict, name: str, config_file: str):
  """The settings of variant `name` of a config (`--config=FILE:NAME`)."""
  if name not in variants:
    raise ValueError(f'{config_file}:{name}: the variant must be one of '
                     f'{", ".join(variants)}')
  return variants[name]


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()

  # Random seed. It decides initialisation, every latent draw (through
  # `fold_in(key, step)`) and the input pipeline's shuffling.
  config.seed = 0
  # Members of a population trained as one program: member i is the run of
  # seed + i (its own initialisation, latents and data order), all stepped
  # together by one jitted step mapped over a member axis, with one
  # checkpoint for all. 1: a single run.
  config.population = 1
  # How the members are stepped: 'vmap' (one batched program, for GPUs and
  # TPUs), 'loop' (each member's step in turn inside one program: XLA:CPU
  # runs the batched convolutions of 'vmap' several times slower), or 'auto'
  # (loop on the CPU, vmap elsewhere). The same numbers either way, up to
  # float reassociation.
  config.population_form = 'auto'
  # Restarts picked inside one run (restarts.py). K > 1: train K restarts,
  # the runs of seeds seed*K .. seed*K+K-1, as one population to
  # restart_pick_step in workdir/restarts/; score them by the label-free
  # criterion restart_criterion ('' : agreement from 3 restarts on, else
  # real_information; evaluators/criteria.py); continue the pick alone to
  # num_train_steps in workdir. Costs K x restart_pick_step steps plus the
  # rest. 1: no restarts.
  config.restarts = 1
  config.restart_pick_step = 1_000
  config.restart_criterion = ''

  # ---------------------------------------------------------------- data
  # TFDS name of the training set, e.g. 'mnist' or 'fashion_mnist'.
  config.dataset = 'mnist'
  # TFDS split used for training.
  config.train_split = 'train'
  # Where prepared TFDS data lives. Empty: the TFDS_DATA_DIR environment
  # variable, else TFDS's own default (~/tensorflow_datasets).
  config.data_dir = ''
  # A dataset missing from data_dir: 'auto' downloads and prepares it when
  # the internet can be reached (process 0 first, the others wait) and
  # otherwise stops at once with instructions for preparing it offline;
  # 'always' leaves the download to TFDS without that check; 'never' stops.
  config.download_data = 'auto'
  # A module to import before the dataset is looked up, for a TFDS builder
  # defined outside TFDS (importing it registers the builder). Such a
  # builder makes its data itself: no download check (e.g.
  # 'infogan_tools.sprites_builder' for configs/sprites.py). Empty: none.
  config.dataset_module = ''
  # For dataset 'image_folder': the folder holding the images, laid out as
  # IMAGE_FOLDER/<train_split>/<any name>/*.png (or .jpg).
  config.image_folder = ''
  # Preprocessing, in this order. center_crop: side of a centred square crop
  # (0: none). image_channels: 1 (grayscale) or 3 (RGB); 0 keeps the data's.
  # image_size: resize to image_size x image_size (0: keep).
  config.center_crop = 0
  config.image_channels = 0
  config.image_size = 0
  # The images' largest pixel value: 255, or 1 for datasets stored as 0/1
  # (dsprites). Pixels are divided by it.
  config.pixel_max = 255
  # Elements held in the tf.data shuffle buffer (per process). Each epoch
  # streams the process's share of the split in file order through a buffer
  # of this size, seeded by (seed, process, epoch): the batches of a step
  # depend on nothing else, so a resumed run sees what an uninterrupted one
  # would have.
  config.shuffle_buffer_size = 10_000
  # Keep the decoded training split in host memory after the first pass.
  # Right for small sets such as MNIST; turn off for large ones.
  config.cache_dataset = True

  # --------------------------------------------------------------- model
  config.model = ml_collections.ConfigDict()
  # Latent code c: one categorical code per entry, of that many categories.
  config.model.categorical_codes = (10,)
  # Number of continuous codes, each drawn from Unif(-1, 1).
  config.model.num_continuous_codes = 2
  # Size of the incompressible noise z, drawn from Unif(-1, 1).
  config.model.noise_dim = 62
  # How Q models a continuous code: 'fixed' = N(mu, 1) as in the official
  # code (the MI term is then 0.5 * squared error plus a constant);
  # 'learned' = N(mu, sigma) with sigma = exp(Q output), as in the paper.
  config.model.continuous_std = 'fixed'
  # Layer stacks, one string per layer: KIND SIZE [-kK] [-sS] [-bn] [-ACT].
  #   KIND: 'fc' (dense; SIZE may be HxWxC to reshape to an image),
  #         'conv' (convolution) or 'up' (transposed convolution).
  #   -kK: kernel size (default 4, the paper's), -sS: stride (default 1),
  #   -bn: batch norm after the layer, ACT: relu, lrelu, tanh or sigmoid
  #   (none: linear). Convolutions use SAME padding.
  # The generator; its last activation sets the data range: sigmoid for
  # [0, 1], tanh for [-1, 1].
  config.model.generator = ('fc1024-bn-relu', 'fc7x7x128-bn-relu',
                            'up64-s2-bn-relu', 'up1-s2-sigmoid')
  # The body that D and Q share.
  config.model.shared_body = ('conv64-s2-lrelu', 'conv128-s2-bn-lrelu',
                              'fc1024-bn-lrelu')
  # Q's own hidden layers after the shared body (may be empty, when D and Q
  # share everything but their output units). Q's output layer is added to
  # fit the latent code, and D's output is a single logit on the body.
  config.model.q_head = ('fc128-bn-lrelu',)
  # Categories of an overclustering head on the shared body's features (0:
  # none): a linear head, apart from Q's, that only lambda_overcluster
  # trains, on real images (e.g. 50 for MNIST's ten digits).
  config.model.overcluster_categories = 0
  # Negative slope of 'lrelu' (paper: 0.1; official code: 0.01).
  config.model.leaky_relu_slope = 0.1
  # Batch-norm running-average decay in Flax's meaning: new = m * old +
  # (1 - m) * batch. 0.9 is the official code's decay (PyTorch would say 0.1).
  config.model.batch_norm_momentum = 0.9
  # Batch-norm epsilon.
  config.model.batch_norm_epsilon = 1e-5
  # Standard deviation of the N(0, std) weight initialiser; biases start at 0.
  config.model.init_std = 0.02
  # The dtype layers compute in: 'float32', or 'bfloat16' (matmuls and
  # activations in bfloat16; parameters, optimiser state, batch-norm
  # statistics and losses stay float32). bfloat16 is for GPUs and TPUs; it is
  # not the paper's setting.
  config.model.compute_dtype = 'float32'
  # How G's transposed convolutions ('up' layers) are computed: 'matmul'
  # (one matmul and shifts, fastest on XLA:CPU), 'native'
  # (lax.conv_transpose, for GPUs and TPUs), or 'auto' (matmul on the CPU,
  # native elsewhere). The same parameters and checkpoints either way.
  config.conv_transpose = 'auto'

  # ------------------------------------------------------------ training
  # Global batch size, over all devices and processes. Must be divisible by
  # the number of devices.
  config.batch_size = 128
  # Number of iterations; each is one D update followed by one G update.
  config.num_train_steps = 5_000
  # Iterations per call of the jitted step (unrolled): more amortise the
  # per-call overhead. The logging, sampling and checkpoint intervals and
  # num_train_steps must be multiples of it.
  config.steps_per_call = 1
  # Keep the whole (preprocessed) training split on every device and draw
  # batches inside the jitted step, instead of feeding batches from tf.data.
  # For small datasets such as MNIST (60,000 x 28 x 28 float32 = 188 MB).
  # Each epoch is a fresh permutation from the seed (the last partial batch
  # is dropped); tf.data's shuffle buffer draws a different order.
  config.data_on_device = False
  # Learning rate of D's optimiser, which also trains Q (shared body and head).
  config.d_learning_rate = 2e-4
  # Learning rate of G's optimiser.
  config.g_learning_rate = 1e-3
  # Adam's beta1 and beta2 for both optimisers.
  config.adam_b1 = 0.5
  config.adam_b2 = 0.999
  # Weight lambda of the mutual-information term, per code type. The term is
  # subtracted from both the D and the G loss.
  config.lambda_categorical = 1.0
  config.lambda_continuous = 1.0
  # Whether G's loss has the MI term. False gives the paper's plain-GAN
  # baseline (Figure 1): Q is still trained, with D's shared body, by D's
  # loss, so the bound measures how much of c the fakes carry, but G is not
  # pushed to make c recoverable.
  config.mi_in_generator_loss = True
  # Q on real images, beyond the paper (which trains Q on generated images
  # only); 0 turns a term off and leaves the paper's objective. All act on
  # the categorical codes and are added to D's loss, so they train Q's head
  # and D's shared body.
  # lambda_real_information: weight of H(mean Q(c|x)) - mean H(Q(c|x)) over
  # the real batch, maximised: real images spread over all categories, each
  # placed confidently. It is logged as q_real_information_nats whatever its
  # weight.
  config.lambda_real_information = 0.0
  # lambda_consistency: weight of KL(Q(c|x) || Q(c|T(x))), T a small random
  # deformation of the real image x (as `augment` says), minimised: a slightly
  # moved or bent digit keeps its category. Costs a second pass of D over the
  # real batch.
  config.lambda_consistency = 0.0
  # lambda_paired_information: weight of I(c; c') between the categories Q
  # gives a real image and its deformed copy (the objective of invariant
  # information clustering), maximised: both copies share a category and
  # the batch uses every category. Shares the second pass of D with the
  # consistency term; logged as q_paired_information_nats.
  config.lambda_paired_information = 0.0
  # lambda_overcluster: weight of the same paired information, of the
  # overclustering head's categories (model.overcluster_categories) for a
  # real image and its deformed copy, maximised: finer clusters than c1's
  # shape the shared body. Shares the second pass of D; logged as
  # overcluster_paired_information_nats.
  config.lambda_overcluster = 0.0
  config.augment = ml_collections.ConfigDict()
  # Shift (pixels, per axis) and rotation (degrees), uniform in [-max, max].
  config.augment.max_shift = 2.0
  config.augment.max_rotation = 10.0
  # Elastic noise: displacements N(0, elastic_std) pixels on an elastic_grid x
  # elastic_grid lattice, bilinearly spread over the image.
  config.augment.elastic_std = 0.5
  config.augment.elastic_grid = 4
  # Slant: x moves by s * (y - centre), s uniform in [-max_shear, max_shear].
  config.augment.max_shear = 0.0
  # Stroke width: each digit moves a fraction t, uniform in [-max_stroke,
  # max_stroke], of the way to its 3x3 dilation (t > 0) or erosion (t < 0).
  config.augment.max_stroke = 0.0
  # A step whose loss or gradients are not finite (NaN or inf): 'stop' ends
  # the run with an error naming the step and the last checkpoint, which is
  # kept as it was (exit status 3); 'skip' drops that step's updates and
  # goes on, counting such steps in the metric nonfinite_steps.
  config.on_nonfinite = 'stop'

  # ----------------------------------------------------------- evaluation
  # Evaluators run every eval_every_steps, at the end of training and by
  # --mode=eval, on eval_split; their scalars go where the training metrics
  # go, prefixed 'eval_'. 'clustering': Q's first categorical code as a
  # classifier of the labelled split (matched accuracy, NMI, ARI).
  # 'mig', 'factor_vae', 'dci', 'sap': disentanglement metrics of Q's
  # representation (continuous means, categorical probabilities) against
  # the known generating factors of every image of eval_split; they need
  # factor_keys.
  config.evaluators = ()
  config.eval_split = 'test'
  # Datasets with known factors: the features holding each factor's class
  # index, e.g. ('label_shape', 'label_scale', ...) for dsprites.
  config.factor_keys = ()
  # The disentanglement_lib protocol's sizes: points sampled (with
  # replacement) for MIG, SAP, DCI's classifiers and FactorVAE's variance
  # estimate; test points for SAP and DCI; FactorVAE's votes and batch.
  config.disentanglement = ml_collections.ConfigDict()
  config.disentanglement.num_train = 10_000
  config.disentanglement.num_test = 5_000
  config.disentanglement.factor_vae_train_votes = 10_000
  config.disentanglement.factor_vae_eval_votes = 5_000
  config.disentanglement.factor_vae_batch_size = 64
  # 0: only at the end of training.
  config.eval_every_steps = 1_000
  # Images per evaluation batch; must be divisible by the number of devices.
  config.eval_batch_size = 1_000
  # A population with a categorical code also logs, at each evaluation, the
  # label-free selection criteria of every member (select_real_information,
  # select_confidence, and from 3 members select_agreement), computed on the
  # first this many training images; --mode=select uses them to pick one.
  config.select_num_images = 10_000

  # ---------------------------------------------------- logging and saving
  # Scalars (averaged over the interval; nonfinite_steps summed) go to
  # TensorBoard, the log and workdir/metrics.jsonl every this many steps.
  config.log_every_steps = 50
  # A sample grid goes to workdir/samples/ and TensorBoard this often.
  config.sample_every_steps = 500
  # A checkpoint goes to workdir/checkpoints/ this often, and at the end.
  config.checkpoint_every_steps = 1_000
  # Number of checkpoints kept; older ones are deleted.
  config.max_checkpoints_to_keep = 3
  # Sample grids: one per code. Rows vary that code (each category of a
  # categorical code; evenly spaced values of a continuous code over
  # continuous_sweep, in continuous_sweep_steps rows); each of the
  # sample_grid_columns columns is one draw of z and the other codes.
  config.sample_grid_columns = 10
  config.continuous_sweep = (-2.0, 2.0)
  config.continuous_sweep_steps = 7

  return config
